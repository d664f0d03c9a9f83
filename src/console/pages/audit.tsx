import { api, query } from '../api.ts'
import { Link } from '../router.tsx'
import type { Session } from '../session.ts'
import { Empty, ErrorBox, Time, toIso, useLoad, useUrlFilters } from '../ui.tsx'

interface AuditEntry {
  at: string
  tenant: string
  subject: string | null
  role: string
  action: string
  target: string | null
  outcome: string
  detail: string | null
}

const FILTERS = ['action', 'subject', 'target', 'outcome', 'since', 'until'] as const

/** Who changed what in the tenant, newest first, from REST, the console and the CLI; the filters live in the URL. */
export function Audit(props: { search: string; session: Session }) {
  const { filters, apply, field } = useUrlFilters(FILTERS, '/audit', props.search)
  const admin = props.session.role === 'ADMIN'
  const page = useLoad(
    `audit${props.search}`,
    () =>
      admin
        ? api<{ items: AuditEntry[]; nextCursor?: string }>(`/audit${query({ ...filters, since: toIso(filters.since), until: toIso(filters.until), limit: 50 })}`)
        : Promise.resolve(undefined),
    30_000,
  )
  if (!admin) {
    return (
      <section>
        <h1>Audit trail</h1>
        <Empty>The audit trail is for ADMIN: it records what every operator of the tenant did.</Empty>
      </section>
    )
  }
  const filtered = Object.keys(filters).some((k) => k !== 'cursor')
  return (
    <section>
      <h1>Audit trail</h1>
      <form class="filters" onSubmit={apply} aria-label="Filters">
        {field('action', 'Action (requests.retry)')}
        {field('subject', 'Who (subject)')}
        {field('target', 'Target')}
        {field('outcome', 'Outcome (ok or an error code)')}
        {field('since', 'Since (local time)', true)}
        {field('until', 'Until (local time)', true)}
        <button type="submit">Apply</button>
      </form>
      <ErrorBox error={page.error} />
      {page.data && page.data.items.length === 0 && (
        <Empty>{filtered ? 'No audit entry matches these filters.' : 'No change recorded yet: retries, deletions and configuration changes show here.'}</Empty>
      )}
      {page.data && page.data.items.length > 0 && (
        <table>
          <caption>Changes and refused changes, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Who</th>
              <th scope="col">Role</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">Outcome</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {page.data.items.map((e, i) => (
              <tr key={`${e.at}-${i}`}>
                <td>
                  <Time value={e.at} />
                </td>
                <td class="clip">{e.subject ?? '—'}</td>
                <td>{e.role}</td>
                <td>{e.action}</td>
                <td class="clip">{e.target ?? '—'}</td>
                <td>
                  <span class={`badge ${e.outcome === 'ok' ? 'ok' : 'warn'}`}>{e.outcome}</span>
                </td>
                <td class="clip">{e.detail ?? '—'}</td>
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
        {page.data?.nextCursor && <Link href={`/audit${query({ ...filters, cursor: page.data.nextCursor })}`}>Next page</Link>}
      </nav>
    </section>
  )
}
