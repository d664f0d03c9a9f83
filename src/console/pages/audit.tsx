import type { AuditEntry } from '../../views.ts'
import { api, query, type AsJson } from '../api.ts'
import type { Session } from '../session.ts'
import { Empty, ErrorBox, ListTable, Pager, Time, toIso, useLoad, useUrlFilters } from '../ui.tsx'

/** An entry as `GET /api/v1/audit` lists it. */
type AuditListItem = AsJson<Omit<AuditEntry, 'id'>>

const FILTERS = ['action', 'subject', 'target', 'outcome', 'since', 'until'] as const

/** Who changed what in the tenant, newest first, from REST, the console and the CLI; the filters live in the URL. */
export function Audit(props: { search: string; session: Session }) {
  const { filters, apply, field } = useUrlFilters(FILTERS, '/audit', props.search)
  const admin = props.session.role === 'ADMIN'
  const page = useLoad(
    `audit${props.search}`,
    () =>
      admin
        ? api<{ items: AuditListItem[]; nextCursor?: string }>(`/audit${query({ ...filters, since: toIso(filters.since), until: toIso(filters.until), limit: 50 })}`)
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
      <ListTable
        caption="Changes and refused changes, newest first"
        columns={['Time', 'Who', 'Role', 'Action', 'Target', 'Outcome', 'Detail']}
        items={page.data?.items}
        empty={filtered ? 'No audit entry matches these filters.' : 'No change recorded yet: retries, deletions and configuration changes show here.'}
        row={(e, i) => (
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
        )}
      />
      <Pager previous={!!filters.cursor} next={page.data?.nextCursor && `/audit${query({ ...filters, cursor: page.data.nextCursor })}`} />
    </section>
  )
}
