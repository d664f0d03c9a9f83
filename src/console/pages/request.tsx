import { api } from '../api.ts'
import { useRequestChanges } from '../live.ts'
import type { Session } from '../session.ts'
import { ActionButton, Badge, DeleteButton, Detail, Empty, Facts, Json, ListTable, Time, useLoad } from '../ui.tsx'
import { RequestDecisions } from './request-decisions.tsx'

interface Attempt {
  attempt: number
  at: string
  outcome: string
  errorClass: string | null
  message: string | null
}

interface Delivery {
  recipient: string
  recipientLabel: string | null
  state: string
  attempts: number
  nextAttemptAt: string | null
  sentAt: string | null
  lastError: string | null
  updatedAt: string
  history: Attempt[]
}

interface RequestDetail {
  requestId: string
  requestOwner: string | null
  requestDate: string
  receivedAt: string
  completedAt: string | null
  state: string
  payload: unknown
  metadata: unknown
  ruleErrors: unknown
  deliveries: Delivery[]
  recipients: unknown[] | null
}

/** One request: what was asked, what each recipient got, every attempt; retry and delete. */
export function RequestPage(props: { requestId: string; session: Session }) {
  const path = `/requests/${encodeURIComponent(props.requestId)}`
  const request = useLoad(path, () => api<RequestDetail>(path), 30_000)
  useRequestChanges((changes) => changes.some((c) => c.requestId === props.requestId) && request.reload(), [props.requestId])
  const admin = props.session.role === 'ADMIN'
  const retry = async (recipient?: string) => {
    await api(`${path}/retry${recipient ? `?recipient=${encodeURIComponent(recipient)}` : ''}`, { method: 'POST' })
    request.reload()
  }
  return (
    <Detail kind="Request" name={props.requestId} loaded={request}>
      {(r) => (
        <>
          <Facts
            items={[
              ['State', <Badge kind="state" value={r.state} />],
              ['Owner', r.requestOwner ?? '—'],
              ['Request date', <Time value={r.requestDate} />],
              ['Received', <Time value={r.receivedAt} />],
              ['Completed', <Time value={r.completedAt} />],
            ]}
          />
          <div class="actions">
            <ActionButton label="Retry" run={() => retry()} />
            {admin && <DeleteButton path={path} confirm={`Delete request ${props.requestId} with its deliveries and history?`} then="/requests" />}
          </div>
          {r.ruleErrors != null && (
            <>
              <h2>Rule errors</h2>
              <Json value={r.ruleErrors} label="Rule errors" />
            </>
          )}
          <h2>Deliveries</h2>
          {r.deliveries.length === 0 && r.recipients && (
            <>
              <p>Completed: the recipients of its last event.</p>
              <Json value={r.recipients} label="Recipients" />
            </>
          )}
          {r.deliveries.length === 0 && !r.recipients && <Empty>No recipient matched this request.</Empty>}
          {r.deliveries.map((d) => (
            <article class="delivery" key={d.recipient} aria-label={`Delivery to ${d.recipient}`}>
              <header>
                <h3>{d.recipientLabel ?? d.recipient}</h3>
                <Badge kind="state" value={d.state} />
                <span class="muted">
                  {d.attempts} attempt{d.attempts === 1 ? '' : 's'}
                  {d.nextAttemptAt && (
                    <>
                      , next <Time value={d.nextAttemptAt} />
                    </>
                  )}
                  {d.sentAt && (
                    <>
                      , sent <Time value={d.sentAt} />
                    </>
                  )}
                </span>
                {d.state === 'ERROR' && <ActionButton label={`Retry ${d.recipient}`} run={() => retry(d.recipient)} />}
              </header>
              {d.lastError && <p class="error-text">{d.lastError}</p>}
              <ListTable
                caption={`Attempts to ${d.recipient}`}
                columns={['#', 'Time', 'Outcome', 'Error class', 'Message']}
                items={d.history}
                row={(a) => (
                  <tr key={a.attempt}>
                    <td>{a.attempt}</td>
                    <td>
                      <Time value={a.at} />
                    </td>
                    <td>{a.outcome}</td>
                    <td>{a.errorClass ?? '—'}</td>
                    <td class="clip">{a.message ?? '—'}</td>
                  </tr>
                )}
              />
            </article>
          ))}
          <RequestDecisions requestId={props.requestId} reloadKey={r.state} />
          <h2>Payload</h2>
          <Json value={r.payload} label="Payload" />
          <h2>Metadata</h2>
          <Json value={r.metadata} label="Metadata" />
        </>
      )}
    </Detail>
  )
}
