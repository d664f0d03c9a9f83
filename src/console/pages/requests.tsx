import { api, query } from '../api.ts'
import { useRequestChanges } from '../live.ts'
import { Link } from '../router.tsx'
import { Badge, ErrorBox, ListTable, numeric, Pager, Time, toIso, useLoad, useUrlFilters } from '../ui.tsx'
import { BulkRetry } from './bulk-retry.tsx'

interface RequestSummary {
  requestId: string
  requestOwner: string | null
  requestDate: string
  receivedAt: string
  completedAt?: string | null
  state: string
  deliveries: { pending: number; sending: number; success: number; error: number }
}

const STATES = ['GRANTED', 'SCHEDULED', 'RULE_ERROR', 'ERROR', 'SUCCESS']
const FILTERS = ['state', 'recipient', 'owner', 'requestId', 'from', 'to', 'field', 'value'] as const

/** Every notification request of the tenant, newest first, filtered; the filters live in the URL. */
export function Requests(props: { search: string }) {
  const { filters, apply, field, choice } = useUrlFilters(FILTERS, '/requests', props.search)
  const { cursor: _cursor, ...selection } = { ...filters, from: toIso(filters.from), to: toIso(filters.to) }
  const page = useLoad(
    `requests${props.search}`,
    () => api<{ items: RequestSummary[]; nextCursor?: string }>(`/requests${query({ ...selection, cursor: filters.cursor, limit: 50 })}`),
    30_000,
  )
  // New and changed requests show at once on the first page; a later page stays still while it is read.
  useRequestChanges(() => filters.cursor === undefined && page.reload(), [props.search])
  return (
    <section>
      <h1>Requests</h1>
      <form class="filters" onSubmit={apply} aria-label="Filters">
        {choice('state', 'State', STATES)}
        {field('recipient', 'Recipient (businessId)')}
        {field('owner', 'Owner')}
        {field('requestId', 'Request id')}
        {field('from', 'From (local time)', true)}
        {field('to', 'To (local time)', true)}
        {field('field', 'Payload field (properties.mission)')}
        {field('value', 'Field value')}
        <button type="submit">Apply</button>
      </form>
      <BulkRetry filter={selection} />
      <ErrorBox error={page.error} />
      <ListTable
        caption="Notification requests, newest first"
        columns={['Request id', 'State', 'Owner', 'Request date', 'Completed', numeric('Deliveries (ok / waiting / error)')]}
        items={page.data?.items}
        empty="No request matches these filters."
        row={(r) => (
          <tr key={r.requestId + r.receivedAt}>
            <td>
              <Link href={`/requests/${encodeURIComponent(r.requestId)}`}>{r.requestId}</Link>
            </td>
            <td>
              <Badge kind="state" value={r.state} />
            </td>
            <td class="clip">{r.requestOwner ?? '—'}</td>
            <td>
              <Time value={r.requestDate} />
            </td>
            <td>
              <Time value={r.completedAt} />
            </td>
            <td class="num">
              {r.deliveries.success} / {r.deliveries.pending + r.deliveries.sending} / {r.deliveries.error}
            </td>
          </tr>
        )}
      />
      <Pager previous={!!filters.cursor} next={page.data?.nextCursor && `/requests${query({ ...filters, cursor: page.data.nextCursor })}`} />
    </section>
  )
}
