import { api, query } from '../api.ts'
import { Link, navigate } from '../router.tsx'
import type { Session } from '../session.ts'
import { ActionButton, DeleteButton, Detail, ErrorBox, Facts, Json, ListTable, numeric, Pager, Time, useLoad } from '../ui.tsx'

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
      <ListTable
        caption="Dead-lettered messages, oldest first"
        columns={['Id', 'Queue', 'Reason', 'Request id', 'Dead-lettered', numeric('Size (bytes)')]}
        items={page.data?.items}
        empty="No dead letter: every message was answered or processed."
        row={(d) => (
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
        )}
      />
      <Pager previous={cursor !== undefined} next={page.data?.nextCursor && `/dead-letters${query({ cursor: page.data.nextCursor })}`} />
    </section>
  )
}

export function DeadLetterPage(props: { id: string; session: Session }) {
  const path = `/dead-letters/${encodeURIComponent(props.id)}`
  const message = useLoad(path, () => api<DeadLetterMessage>(path))
  return (
    <Detail kind="Dead letter" name={props.id} loaded={message}>
      {(m) => (
        <>
          <Facts
            items={[
              ['Queue', m.queue],
              [
                'Published to',
                <>
                  {m.exchange || '(default exchange)'} {m.routingKey && <span class="muted">routing key {m.routingKey}</span>}
                </>,
              ],
              ['Reason', m.reason ?? '—'],
              ['Dead-lettered', <Time value={m.deadLetteredAt} />],
            ]}
          />
          <div class="actions">
            <ActionButton
              label="Replay to its queue"
              run={async () => {
                await api(`${path}/replay?target=queue`, { method: 'POST' })
                navigate('/dead-letters')
              }}
            />
            {props.session.role === 'ADMIN' && <DeleteButton label="Discard" path={path} confirm={`Discard dead letter ${props.id} for good?`} then="/dead-letters" />}
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
    </Detail>
  )
}
