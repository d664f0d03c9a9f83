import { useState } from 'preact/hooks'
import { api, query } from '../api.ts'
import { useRequestChanges } from '../live.ts'
import { Link } from '../router.tsx'
import { ActionButton, Badge, Empty, ErrorBox, ListTable, Time, useLoad } from '../ui.tsx'

interface Cell {
  day: string
  matched: number
  delivered: number
  /** Null when the recipient requires no acknowledgement. */
  acknowledged: number | null
}

/** `GET /api/v1/completeness` (src/http/routes/completeness.ts). */
interface Matrix {
  days: string[]
  recipients: { businessId: string; label: string | null; ackRequired: boolean; cells: Cell[] }[]
}

/** `GET /api/v1/completeness/gap`. */
interface Gap {
  recipient: { businessId: string; label: string | null; ackRequired: boolean }
  day: string
  items: { requestId: string; payloadId: string | null; urn: string | null; receivedAt: string; state: string; live: boolean }[]
  more: boolean
  retryable: string[]
}

interface RetryResult {
  requests: number
  deliveries: number
  rematched: number
}

const RANGES = [7, 14, 31]

const incomplete = (c: Cell) => c.delivered < c.matched || (c.acknowledged !== null && c.acknowledged < c.delivered)
const cellPath = (recipient: string, day: string, days: string | undefined) => `/completeness${query({ days, recipient, day })}`

/**
 * Whether every product matched for a recipient reached it (and was acknowledged, when it must be): per
 * recipient and UTC day of reception, matched / delivered / acknowledged. A cell opens what it misses, in the
 * URL (`?recipient=…&day=…`) so that the view is a link.
 */
export function Completeness(props: { search: string }) {
  const q = new URLSearchParams(props.search)
  const days = q.get('days') ?? undefined
  const recipient = q.get('recipient') ?? undefined
  const day = q.get('day') ?? undefined
  const matrix = useLoad(`completeness-${days}`, () => api<Matrix>(`/completeness${query({ days })}`), 30_000)
  useRequestChanges(() => matrix.reload(), [days])
  const m = matrix.data
  return (
    <section>
      <h1>Completeness</h1>
      <nav class="pager" aria-label="Days shown">
        {RANGES.map((n) => (
          <Link key={n} href={`/completeness${query({ days: n === 7 ? undefined : n, recipient, day })}`} aria-current={Number(days ?? 7) === n ? 'page' : undefined}>
            {n} days
          </Link>
        ))}
      </nav>
      <ErrorBox error={matrix.error} />
      {m && m.recipients.length === 0 && <Empty>No recipient yet: nothing to be complete about.</Empty>}
      {m && m.recipients.length > 0 && (
        <table class="matrix">
          <caption>Per recipient and UTC day of reception: matched / delivered / acknowledged (— when no acknowledgement is required)</caption>
          <thead>
            <tr>
              <th scope="col">Recipient</th>
              {m.days.map((d) => (
                <th scope="col" class="num" key={d}>
                  {d}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {m.recipients.map((r) => (
              <tr key={r.businessId}>
                <th scope="row">
                  <Link href={`/recipients/${encodeURIComponent(r.businessId)}`}>{r.businessId}</Link>
                </th>
                {r.cells.map((c) => (
                  <td key={c.day} class={`num ${c.matched === 0 ? 'idle' : incomplete(c) ? 'incomplete' : 'complete'}`}>
                    {c.matched === 0 ? (
                      <span class="muted">0</span>
                    ) : (
                      <Link href={cellPath(r.businessId, c.day, days)} aria-current={r.businessId === recipient && c.day === day ? 'page' : undefined}>
                        {c.matched} / {c.delivered} / {c.acknowledged ?? '—'}
                        <span class="visually-hidden">{incomplete(c) ? ', incomplete' : ', complete'}</span>
                      </Link>
                    )}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {recipient && day && <GapList recipient={recipient} day={day} closeHref={`/completeness${query({ days })}`} onRetried={matrix.reload} />}
    </section>
  )
}

/** What one cell misses, each request linked, and a retry of those that failed for this recipient. */
function GapList(props: { recipient: string; day: string; closeHref: string; onRetried: () => void }) {
  const path = `/completeness/gap${query({ recipient: props.recipient, day: props.day })}`
  const gap = useLoad(path, () => api<Gap>(path))
  useRequestChanges(() => gap.reload(), [path])
  const [retried, setRetried] = useState<RetryResult>()
  const g = gap.data
  const retry = async () => {
    setRetried(await api<RetryResult>('/requests/retry', { method: 'POST', body: { requestIds: g!.retryable, recipient: props.recipient } }))
    gap.reload()
    props.onRetried()
  }
  return (
    <section aria-label={`What ${props.recipient} misses on ${props.day}`}>
      <h2>
        What <code>{props.recipient}</code> misses on {props.day}
      </h2>
      <ErrorBox error={gap.error} />
      {g && g.items.length === 0 && <Empty>Nothing: every product matched for {props.recipient} that day was delivered{g.recipient.ackRequired ? ' and acknowledged' : ''}.</Empty>}
      {g && g.items.length > 0 && (
        <>
          <div class="actions">
            <ActionButton label={`Retry these (${g.retryable.length})`} run={retry} disabled={g.retryable.length === 0} />
            {g.retryable.length === 0 && <span class="muted">No failed delivery to retry: the others are still on their way, or delivered and waiting for their acknowledgement.</span>}
          </div>
          {retried && (
            <p role="status">
              Retried {retried.requests} request{retried.requests === 1 ? '' : 's'} ({retried.deliveries} deliveries put back to PENDING).
            </p>
          )}
          <ListTable
            caption={`Products matched for ${props.recipient} on ${props.day} but not delivered${g.recipient.ackRequired ? ' or not acknowledged' : ''}${g.more ? `: the first ${g.items.length}` : ''}`}
            columns={['Request id', 'Product', 'Received', 'Delivery']}
            items={g.items}
            row={(i) => (
              <tr key={i.requestId}>
                <td>
                  <Link href={`/requests/${encodeURIComponent(i.requestId)}`}>{i.requestId}</Link>
                </td>
                <td class="clip">
                  {i.payloadId ?? '—'}
                  {i.urn && <div class="muted">{i.urn}</div>}
                </td>
                <td>
                  <Time value={i.receivedAt} />
                </td>
                <td>
                  <Badge kind="state" value={i.state}>
                    {i.state === 'SUCCESS' ? 'not acknowledged' : i.state}
                  </Badge>
                  {!i.live && <span class="muted"> completed</span>}
                </td>
              </tr>
            )}
          />
        </>
      )}
      <Link href={props.closeHref}>Close</Link>
    </section>
  )
}
