import { api, query } from '../api.ts'
import { useRequestChanges } from '../live.ts'
import { Link } from '../router.tsx'
import { Empty, ErrorBox, Time, toIso, useLoad, useUrlFilters } from '../ui.tsx'
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

const STATES = ['', 'GRANTED', 'SCHEDULED', 'RULE_ERROR', 'ERROR', 'SUCCESS']
const FILTERS = ['state', 'recipient', 'owner', 'requestId', 'from', 'to', 'field', 'value'] as const

/** Every notification request of the tenant, newest first, filtered; the filters live in the URL. */
export function Requests(props: { search: string }) {
  const { filters, draft, setDraft, apply, field } = useUrlFilters(FILTERS, '/requests', props.search)
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
        <label>
          State
          <select name="state" value={draft.state ?? ''} onChange={(e) => setDraft({ ...draft, state: (e.target as HTMLSelectElement).value })}>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {s || 'any'}
              </option>
            ))}
          </select>
        </label>
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
      {page.data && page.data.items.length === 0 && <Empty>No request matches these filters.</Empty>}
      {page.data && page.data.items.length > 0 && (
        <table>
          <caption>Notification requests, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Request id</th>
              <th scope="col">State</th>
              <th scope="col">Owner</th>
              <th scope="col">Request date</th>
              <th scope="col">Completed</th>
              <th scope="col" class="num">Deliveries (ok / waiting / error)</th>
            </tr>
          </thead>
          <tbody>
            {page.data.items.map((r) => (
              <tr key={r.requestId + r.receivedAt}>
                <td>
                  <Link href={`/requests/${encodeURIComponent(r.requestId)}`}>{r.requestId}</Link>
                </td>
                <td>
                  <span class={`badge state-${r.state}`}>{r.state}</span>
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
            ))}
          </tbody>
        </table>
      )}
      <nav class="pager" aria-label="Pages">
        {filters.cursor && (
          <button type="button" onClick={() => history.back()}>
            Previous page
          </button>
        )}
        {page.data?.nextCursor && <Link href={`/requests${query({ ...filters, cursor: page.data.nextCursor })}`}>Next page</Link>}
      </nav>
    </section>
  )
}
