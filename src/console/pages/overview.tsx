import { api } from '../api.ts'
import { useRequestChanges } from '../live.ts'
import { Link } from '../router.tsx'
import { Empty, ErrorBox, useLoad } from '../ui.tsx'

export interface RecipientView {
  businessId: string
  pluginId: string
  label: string
  active: boolean
  recipientLabel?: string
  state: {
    backlog: number
    sending: number
    errors: number
    oldestWaitingSeconds: number
    lastError: { message: string; at: string } | null
    parked: boolean
    parkedReason: string | null
  }
}

export function age(seconds: number): string {
  if (seconds < 60) return `${seconds} s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`
  return `${Math.floor(seconds / 86_400)} d`
}

/** Per recipient: what waits, for how long, what failed; refreshed on every request change, and every 10 s. */
export function Overview() {
  const recipients = useLoad('recipients', () => api<{ items: RecipientView[] }>('/recipients?limit=500'), 10_000)
  useRequestChanges(() => recipients.reload())
  const list = recipients.data?.items ?? []
  return (
    <section>
      <h1>Overview</h1>
      <ErrorBox error={recipients.error} />
      {recipients.data && list.length === 0 && (
        <Empty>
          No recipient yet: import a configuration (<code>herald config import</code>) or create one.
        </Empty>
      )}
      {list.length > 0 && (
        <table>
          <caption>Recipients</caption>
          <thead>
            <tr>
              <th scope="col">Recipient</th>
              <th scope="col">Plugin</th>
              <th scope="col">State</th>
              <th scope="col" class="num">Waiting</th>
              <th scope="col" class="num">Sending</th>
              <th scope="col" class="num">In error</th>
              <th scope="col">Oldest waiting</th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {list.map((r) => (
              <tr key={r.businessId}>
                <td>
                  <Link href={`/recipients/${encodeURIComponent(r.businessId)}`}>{r.label || r.businessId}</Link>
                  <div class="muted">{r.businessId}</div>
                </td>
                <td>{r.pluginId}</td>
                <td>
                  {!r.active ? <span class="badge">inactive</span> : r.state.parked ? <span class="badge warn" title={r.state.parkedReason ?? ''}>parked</span> : <span class="badge ok">active</span>}
                </td>
                <td class="num">{r.state.backlog}</td>
                <td class="num">{r.state.sending}</td>
                <td class="num">{r.state.errors > 0 ? <Link href={`/requests?state=ERROR&recipient=${encodeURIComponent(r.businessId)}`}>{r.state.errors}</Link> : 0}</td>
                <td>{r.state.backlog > 0 ? age(r.state.oldestWaitingSeconds) : '—'}</td>
                <td class="clip">{r.state.lastError?.message ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}
