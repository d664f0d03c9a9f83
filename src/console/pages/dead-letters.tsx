import { api, query } from '../api.ts'
import { Link, navigate } from '../router.tsx'
import type { Session } from '../session.ts'
import { ActionButton, Empty, ErrorBox, Json, Time, useLoad } from '../ui.tsx'

interface DeadLetter {
  id: number
  queue: string
  dlq: string
  exchange: string
  routingKey: string
  reason: string | null
  requestId: string | null
  deadLetteredAt: string | null
  collectedAt: string
  size: number
}

interface DeadLetterMessage extends DeadLetter {
  headers: Record<string, unknown>
  properties: Record<string, unknown>
  body: string
  bodyEncoding: 'utf8' | 'base64'
}

/** Messages Herald or the broker dead-lettered, oldest first: inspect, replay, discard. */
export function DeadLetters(props: { search: string }) {
  const cursor = new URLSearchParams(props.search).get('cursor') ?? undefined
  const page = useLoad(`dead-letters${props.search}`, () => api<{ items: DeadLetter[]; nextCursor?: string }>(`/dead-letters${query({ cursor, limit: 50 })}`), 5000)
  return (
    <section>
      <h1>Dead letters</h1>
      <ErrorBox error={page.error} />
      {page.data && page.data.items.length === 0 && <Empty>No dead letter: every message was answered or processed.</Empty>}
      {page.data && page.data.items.length > 0 && (
        <table>
          <caption>Dead-lettered messages, oldest first</caption>
          <thead>
            <tr>
              <th scope="col">Id</th>
              <th scope="col">Queue</th>
              <th scope="col">Reason</th>
              <th scope="col">Request id</th>
              <th scope="col">Dead-lettered</th>
              <th scope="col" class="num">Size (bytes)</th>
            </tr>
          </thead>
          <tbody>
            {page.data.items.map((d) => (
              <tr key={d.id}>
                <td>
                  <Link href={`/dead-letters/${d.id}`}>{d.id}</Link>
                </td>
                <td class="clip">{d.queue}</td>
                <td class="clip">{d.reason ?? '—'}</td>
                <td class="clip">{d.requestId ?? '—'}</td>
                <td>
                  <Time value={d.deadLetteredAt ?? d.collectedAt} />
                </td>
                <td class="num">{d.size}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {page.data?.nextCursor && <Link href={`/dead-letters${query({ cursor: page.data.nextCursor })}`}>Next page</Link>}
    </section>
  )
}

export function DeadLetterPage(props: { id: string; session: Session }) {
  const path = `/dead-letters/${encodeURIComponent(props.id)}`
  const message = useLoad(path, () => api<DeadLetterMessage>(path))
  const m = message.data
  return (
    <section>
      <h1>Dead letter {props.id}</h1>
      <ErrorBox error={message.error} />
      {m && (
        <>
          <dl class="facts">
            <dt>Queue</dt>
            <dd>{m.queue}</dd>
            <dt>Published to</dt>
            <dd>
              {m.exchange || '(default exchange)'} {m.routingKey && <span class="muted">routing key {m.routingKey}</span>}
            </dd>
            <dt>Reason</dt>
            <dd class="clip">{m.reason ?? '—'}</dd>
            <dt>Dead-lettered</dt>
            <dd>
              <Time value={m.deadLetteredAt} />
            </dd>
          </dl>
          <div class="actions">
            <ActionButton
              label="Replay to its queue"
              run={async () => {
                await api(`${path}/replay?target=queue`, { method: 'POST' })
                navigate('/dead-letters')
              }}
            />
            {props.session.role === 'ADMIN' && (
              <ActionButton
                label="Discard"
                danger
                confirm={`Discard dead letter ${props.id} for good?`}
                run={async () => {
                  await api(path, { method: 'DELETE' })
                  navigate('/dead-letters')
                }}
              />
            )}
          </div>
          <h2>Headers</h2>
          <Json value={m.headers} label="Headers" />
          <h2>Properties</h2>
          <Json value={m.properties} label="Properties" />
          <h2>Body ({m.bodyEncoding})</h2>
          <pre class="json" aria-label="Body" tabIndex={0}>
            {m.body}
          </pre>
        </>
      )}
    </section>
  )
}
