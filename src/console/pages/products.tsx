import { api, query } from '../api.ts'
import { Link } from '../router.tsx'
import { Badge, Detail, ErrorBox, Facts, Json, ListTable, Pager, Time, useLoad, useUrlFilters } from '../ui.tsx'

interface DisseminationInfo {
  label: string
  requestDate: string
  ackDate?: string
  blocking: boolean
}

interface Product {
  urn: string
  kind: string
  providerId: string
  version: number
  last: boolean
  session?: string
  sessionOwner?: string
  creationDate: string
  lastUpdate: string
  disseminationStatus: 'NONE' | 'PENDING' | 'DONE'
  disseminationsInfo: DisseminationInfo[]
  content?: unknown
}

interface CatalogRequest {
  requestId: string
  requestOwner?: string
  type: string
  state: string
  step?: string
  requestDate: string
  registrationDate: string
  recipients?: unknown
  errors?: string[]
  completedAt?: string
}

const labelStatus = (d: DisseminationInfo) => (d.ackDate ? 'DONE' : 'PENDING')

const FILTERS = ['status', 'label', 'providerId'] as const

/** Catalog products with their dissemination status; the filters live in the URL. */
export function Products(props: { search: string }) {
  const { filters, apply, field, choice } = useUrlFilters(FILTERS, '/products', props.search)
  const page = useLoad(`products${props.search}`, () => api<{ items: Product[]; nextCursor?: string }>(`/products${query({ ...filters, limit: 50 })}`), 5000)
  return (
    <section>
      <h1>Products</h1>
      <form class="filters" onSubmit={apply} aria-label="Filters">
        {choice('status', 'Dissemination', ['NONE', 'PENDING', 'DONE'])}
        {field('label', 'Recipient label')}
        {field('providerId', 'Provider id')}
        <button type="submit">Apply</button>
      </form>
      <ErrorBox error={page.error} />
      <ListTable
        caption="Products and their dissemination per recipient"
        columns={['Provider id', 'URN', 'Dissemination', 'Per recipient', 'Last update']}
        items={page.data?.items}
        empty="No product matches (the catalog role records products; is it running?)."
        row={(p) => (
          <tr key={p.urn}>
            <td>
              <Link href={`/products/${encodeURIComponent(p.urn)}`}>{p.providerId}</Link>
            </td>
            <td class="clip muted">{p.urn}</td>
            <td>
              <Badge kind="status" value={p.disseminationStatus} />
            </td>
            <td>
              {p.disseminationsInfo.map((d) => (
                <Badge key={d.label} kind="status" value={labelStatus(d)} title={`requested ${d.requestDate}${d.ackDate ? `, acknowledged ${d.ackDate}` : ''}`}>
                  {d.label}: {labelStatus(d)}
                </Badge>
              ))}
            </td>
            <td>
              <Time value={p.lastUpdate} />
            </td>
          </tr>
        )}
      />
      <Pager previous={!!filters.cursor} next={page.data?.nextCursor && `/products${query({ ...filters, cursor: page.data.nextCursor })}`} />
    </section>
  )
}

/** The product passport: what the catalog holds, every request about it, every recipient and its acknowledgement. */
export function ProductPage(props: { urn: string }) {
  const path = `/products/${encodeURIComponent(props.urn)}`
  const product = useLoad(path, () => api<Product>(path), 5000)
  const live = useLoad(`catalog-requests-${props.urn}`, () => api<{ items: CatalogRequest[] }>(`/catalog/requests${query({ urn: props.urn, limit: 100 })}`), 5000)
  const done = useLoad(`catalog-history-${props.urn}`, () => api<{ items: CatalogRequest[] }>(`/catalog/requests${query({ urn: props.urn, state: 'SUCCESS', limit: 100 })}`), 5000)
  const requests = [...(live.data?.items ?? []), ...(done.data?.items ?? [])].sort((a, b) => b.registrationDate.localeCompare(a.registrationDate))
  return (
    <Detail kind="Product" name={product.data?.providerId ?? props.urn} loaded={product}>
      {(p) => (
        <>
          <Facts
            items={[
              ['URN', p.urn],
              ['Version', `${p.version}${p.last ? ' (latest)' : ''}`],
              ['Session', p.session ? `${p.sessionOwner ?? ''} / ${p.session}` : '—'],
              ['Dissemination', <Badge kind="status" value={p.disseminationStatus} />],
            ]}
          />
          <h2>Recipients</h2>
          <ListTable
            caption="Dissemination and acknowledgement per recipient label"
            columns={['Recipient label', 'Status', 'Sent (request date)', 'Acknowledged', 'Blocks deletion']}
            items={p.disseminationsInfo}
            empty="Sent to no recipient yet."
            row={(d) => (
              <tr key={d.label}>
                <td>{d.label}</td>
                <td>
                  <Badge kind="status" value={labelStatus(d)} />
                </td>
                <td>
                  <Time value={d.requestDate} />
                </td>
                <td>
                  <Time value={d.ackDate} />
                </td>
                <td>{d.blocking ? 'yes' : 'no'}</td>
              </tr>
            )}
          />
          <h2>Requests about this product</h2>
          <ErrorBox error={live.error ?? done.error} />
          <ListTable
            caption="Catalog requests, newest first"
            columns={['Request id', 'Type', 'State', 'Step', 'Registered', 'Errors']}
            items={requests}
            empty="No catalog request is recorded for this URN."
            row={(r) => (
              <tr key={r.requestId + r.registrationDate}>
                <td>{r.requestId}</td>
                <td>{r.type}</td>
                <td>
                  <Badge kind="state" value={r.state} />
                </td>
                <td>{r.step ?? '—'}</td>
                <td>
                  <Time value={r.registrationDate} />
                </td>
                <td class="clip">{r.errors?.join('; ') ?? '—'}</td>
              </tr>
            )}
          />
          <h2>Content</h2>
          <Json value={p.content} label="Content" />
        </>
      )}
    </Detail>
  )
}
