import { api } from '../api.ts'
import { useRequestChanges } from '../live.ts'
import { navigate } from '../router.tsx'
import type { Session } from '../session.ts'
import { ActionButton, ErrorBox, Json, Time, useLoad } from '../ui.tsx'
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
  const r = request.data
  const admin = props.session.role === 'ADMIN'
  const retry = async (recipient?: string) => {
    await api(`${path}/retry${recipient ? `?recipient=${encodeURIComponent(recipient)}` : ''}`, { method: 'POST' })
    request.reload()
  }
  return (
    <section>
      <h1>
        Request <code>{props.requestId}</code>
      </h1>
      <ErrorBox error={request.error} />
      {r && (
        <>
          <dl class="facts">
            <dt>State</dt>
            <dd>
              <span class={`badge state-${r.state}`}>{r.state}</span>
            </dd>
            <dt>Owner</dt>
            <dd>{r.requestOwner ?? '—'}</dd>
            <dt>Request date</dt>
            <dd>
              <Time value={r.requestDate} />
            </dd>
            <dt>Received</dt>
            <dd>
              <Time value={r.receivedAt} />
            </dd>
            <dt>Completed</dt>
            <dd>
              <Time value={r.completedAt} />
            </dd>
          </dl>
          <div class="actions">
            <ActionButton label="Retry" run={() => retry()} />
            {admin && (
              <ActionButton
                label="Delete"
                danger
                confirm={`Delete request ${props.requestId} with its deliveries and history?`}
                run={async () => {
                  await api(path, { method: 'DELETE' })
                  navigate('/requests')
                }}
              />
            )}
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
          {r.deliveries.length === 0 && !r.recipients && <p class="empty">No recipient matched this request.</p>}
          {r.deliveries.map((d) => (
            <article class="delivery" key={d.recipient} aria-label={`Delivery to ${d.recipient}`}>
              <header>
                <h3>{d.recipientLabel ?? d.recipient}</h3>
                <span class={`badge state-${d.state}`}>{d.state}</span>
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
              {d.history.length > 0 && (
                <table>
                  <caption>Attempts to {d.recipient}</caption>
                  <thead>
                    <tr>
                      <th scope="col">#</th>
                      <th scope="col">Time</th>
                      <th scope="col">Outcome</th>
                      <th scope="col">Error class</th>
                      <th scope="col">Message</th>
                    </tr>
                  </thead>
                  <tbody>
                    {d.history.map((a) => (
                      <tr key={a.attempt}>
                        <td>{a.attempt}</td>
                        <td>
                          <Time value={a.at} />
                        </td>
                        <td>{a.outcome}</td>
                        <td>{a.errorClass ?? '—'}</td>
                        <td class="clip">{a.message ?? '—'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </article>
          ))}
          <RequestDecisions requestId={props.requestId} reloadKey={r.state} />
          <h2>Payload</h2>
          <Json value={r.payload} label="Payload" />
          <h2>Metadata</h2>
          <Json value={r.metadata} label="Metadata" />
        </>
      )}
    </section>
  )
}
