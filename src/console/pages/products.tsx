import { useState } from 'preact/hooks'
import { api, query } from '../api.ts'
import { Link, navigate } from '../router.tsx'
import { Empty, ErrorBox, Json, Time, useLoad } from '../ui.tsx'

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

/** Catalog products with their dissemination status; the filters live in the URL. */
export function Products(props: { search: string }) {
  const q = new URLSearchParams(props.search)
  const filters = { status: q.get('status') ?? '', label: q.get('label') ?? '', providerId: q.get('providerId') ?? '', cursor: q.get('cursor') ?? '' }
  const page = useLoad(`products${props.search}`, () => api<{ items: Product[]; nextCursor?: string }>(`/products${query({ ...filters, limit: 50 })}`), 5000)
  const [draft, setDraft] = useState(filters)
  return (
    <section>
      <h1>Products</h1>
      <form
        class="filters"
        aria-label="Filters"
        onSubmit={(e) => {
          e.preventDefault()
          navigate(`/products${query({ ...draft, cursor: undefined })}`)
        }}
      >
        <label>
          Dissemination
          <select value={draft.status} onChange={(e) => setDraft({ ...draft, status: (e.target as HTMLSelectElement).value })}>
            {['', 'NONE', 'PENDING', 'DONE'].map((s) => (
              <option key={s} value={s}>
                {s || 'any'}
              </option>
            ))}
          </select>
        </label>
        <label>
          Recipient label
          <input type="text" value={draft.label} onInput={(e) => setDraft({ ...draft, label: (e.target as HTMLInputElement).value })} />
        </label>
        <label>
          Provider id
          <input type="text" value={draft.providerId} onInput={(e) => setDraft({ ...draft, providerId: (e.target as HTMLInputElement).value })} />
        </label>
        <button type="submit">Apply</button>
      </form>
      <ErrorBox error={page.error} />
      {page.data && page.data.items.length === 0 && <Empty>No product matches (the catalog role records products; is it running?).</Empty>}
      {page.data && page.data.items.length > 0 && (
        <table>
          <caption>Products and their dissemination per recipient</caption>
          <thead>
            <tr>
              <th scope="col">Provider id</th>
              <th scope="col">URN</th>
              <th scope="col">Dissemination</th>
              <th scope="col">Per recipient</th>
              <th scope="col">Last update</th>
            </tr>
          </thead>
          <tbody>
            {page.data.items.map((p) => (
              <tr key={p.urn}>
                <td>
                  <Link href={`/products/${encodeURIComponent(p.urn)}`}>{p.providerId}</Link>
                </td>
                <td class="clip muted">{p.urn}</td>
                <td>
                  <span class={`badge status-${p.disseminationStatus}`}>{p.disseminationStatus}</span>
                </td>
                <td>
                  {p.disseminationsInfo.map((d) => (
                    <span key={d.label} class={`badge status-${labelStatus(d)}`} title={`requested ${d.requestDate}${d.ackDate ? `, acknowledged ${d.ackDate}` : ''}`}>
                      {d.label}: {labelStatus(d)}
                    </span>
                  ))}
                </td>
                <td>
                  <Time value={p.lastUpdate} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {page.data?.nextCursor && <Link href={`/products${query({ ...filters, cursor: page.data.nextCursor })}`}>Next page</Link>}
    </section>
  )
}

/** The product passport: what the catalog holds, every request about it, every recipient and its acknowledgement. */
export function ProductPage(props: { urn: string }) {
  const path = `/products/${encodeURIComponent(props.urn)}`
  const product = useLoad(path, () => api<Product>(path), 5000)
  const live = useLoad(`catalog-requests-${props.urn}`, () => api<{ items: CatalogRequest[] }>(`/catalog/requests${query({ urn: props.urn, limit: 100 })}`), 5000)
  const done = useLoad(`catalog-history-${props.urn}`, () => api<{ items: CatalogRequest[] }>(`/catalog/requests${query({ urn: props.urn, state: 'SUCCESS', limit: 100 })}`), 5000)
  const p = product.data
  const requests = [...(live.data?.items ?? []), ...(done.data?.items ?? [])].sort((a, b) => b.registrationDate.localeCompare(a.registrationDate))
  return (
    <section>
      <h1>
        Product <code>{p?.providerId ?? props.urn}</code>
      </h1>
      <ErrorBox error={product.error} />
      {p && (
        <>
          <dl class="facts">
            <dt>URN</dt>
            <dd class="clip">{p.urn}</dd>
            <dt>Version</dt>
            <dd>
              {p.version}
              {p.last ? ' (latest)' : ''}
            </dd>
            <dt>Session</dt>
            <dd>{p.session ? `${p.sessionOwner ?? ''} / ${p.session}` : '—'}</dd>
            <dt>Dissemination</dt>
            <dd>
              <span class={`badge status-${p.disseminationStatus}`}>{p.disseminationStatus}</span>
            </dd>
          </dl>
          <h2>Recipients</h2>
          {p.disseminationsInfo.length === 0 ? (
            <Empty>Sent to no recipient yet.</Empty>
          ) : (
            <table>
              <caption>Dissemination and acknowledgement per recipient label</caption>
              <thead>
                <tr>
                  <th scope="col">Recipient label</th>
                  <th scope="col">Status</th>
                  <th scope="col">Sent (request date)</th>
                  <th scope="col">Acknowledged</th>
                  <th scope="col">Blocks deletion</th>
                </tr>
              </thead>
              <tbody>
                {p.disseminationsInfo.map((d) => (
                  <tr key={d.label}>
                    <td>{d.label}</td>
                    <td>
                      <span class={`badge status-${labelStatus(d)}`}>{labelStatus(d)}</span>
                    </td>
                    <td>
                      <Time value={d.requestDate} />
                    </td>
                    <td>
                      <Time value={d.ackDate} />
                    </td>
                    <td>{d.blocking ? 'yes' : 'no'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h2>Requests about this product</h2>
          <ErrorBox error={live.error ?? done.error} />
          {requests.length === 0 ? (
            <Empty>No catalog request is recorded for this URN.</Empty>
          ) : (
            <table>
              <caption>Catalog requests, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Request id</th>
                  <th scope="col">Type</th>
                  <th scope="col">State</th>
                  <th scope="col">Step</th>
                  <th scope="col">Registered</th>
                  <th scope="col">Errors</th>
                </tr>
              </thead>
              <tbody>
                {requests.map((r) => (
                  <tr key={r.requestId + r.registrationDate}>
                    <td>{r.requestId}</td>
                    <td>{r.type}</td>
                    <td>
                      <span class={`badge state-${r.state}`}>{r.state}</span>
                    </td>
                    <td>{r.step ?? '—'}</td>
                    <td>
                      <Time value={r.registrationDate} />
                    </td>
                    <td class="clip">{r.errors?.join('; ') ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h2>Content</h2>
          <Json value={p.content} label="Content" />
        </>
      )}
    </section>
  )
}
