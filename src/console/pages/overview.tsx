import { api } from '../api.ts'
import { useRequestChanges } from '../live.ts'
import { Link } from '../router.tsx'
import { Sparkline } from '../sparkline.tsx'
import { age, ErrorBox, ListTable, numeric, RecipientStateBadge, useLoad } from '../ui.tsx'

interface Activity {
  delivered: number
  failed: number
}

/** `GET /api/v1/overview` (src/http/routes/overview.ts). */
interface OverviewData {
  at: string
  recipients: {
    businessId: string
    label: string
    pluginId: string
    active: boolean
    backlog: number
    sending: number
    errors: number
    oldestWaitingSeconds: number
    parked: boolean
    parkedReason: string | null
    lastHour: Activity
    /** The last 24 hours, oldest first. */
    hourly: Activity[]
  }[]
  intake: { lastHour: number; perMinute: number[] }
  deadLetters: number
}

// The console's --ok, --bad and --accent colours: a canvas cannot read CSS variables.
const DELIVERED = '#1e7a3c'
const FAILED = '#b3261e'
const RECEIVED = '#1f5fbf'

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0)

/** The last 24 hours of one recipient: the chart, and its numbers as text. */
function DayOfDeliveries(props: { name: string; hourly: Activity[] }) {
  const delivered = props.hourly.map((h) => h.delivered)
  const failed = props.hourly.map((h) => h.failed)
  const text = `${sum(delivered)} delivered, ${sum(failed)} failed`
  return (
    <>
      <Sparkline
        label={`Deliveries to ${props.name} per hour over the last 24 hours: ${text}; at most ${Math.max(...delivered)} delivered in one hour`}
        series={[
          { label: 'delivered', values: delivered, color: DELIVERED },
          { label: 'failed', values: failed, color: FAILED },
        ]}
      />
      <div class="muted">{text}</div>
    </>
  )
}

/**
 * What the tenant's dissemination is doing now: the intake rate, the dead letters, and per recipient what
 * waits, for how long, and the last day of deliveries. Refreshed on every request change, and every 10 s.
 */
export function Overview() {
  const overview = useLoad('overview', () => api<OverviewData>('/overview'), 10_000)
  useRequestChanges(() => overview.reload())
  const o = overview.data
  return (
    <section>
      <h1>Overview</h1>
      <ErrorBox error={overview.error} />
      {o && (
        <div class="figures">
          <div class="panel" role="group" aria-label="Intake">
            <h2>Intake</h2>
            <p>{plural(o.intake.lastHour, 'request')} received in the last hour</p>
            <Sparkline
              label={`Requests received per minute over the last hour: ${o.intake.lastHour} in all, at most ${Math.max(0, ...o.intake.perMinute)} in one minute`}
              series={[{ label: 'received', values: o.intake.perMinute, color: RECEIVED }]}
              width={240}
            />
          </div>
          <div class="panel" role="group" aria-label="Dead letters">
            <h2>Dead letters</h2>
            <p>
              <Link href="/dead-letters">{plural(o.deadLetters, 'message')}</Link> waiting for an operator
            </p>
          </div>
        </div>
      )}
      <ListTable
        caption="Recipients"
        columns={['Recipient', 'State', numeric('Waiting'), 'Oldest waiting', numeric('In error'), numeric('Delivered, last hour'), numeric('Failed, last hour'), 'Last 24 h']}
        items={o?.recipients}
        empty={
          <>
            No recipient yet: import a configuration (<code>herald config import</code>) or create one.
          </>
        }
        row={(r) => (
          <tr key={r.businessId}>
            <td>
              <Link href={`/recipients/${encodeURIComponent(r.businessId)}`}>{r.label || r.businessId}</Link>
              <div class="muted">
                {r.businessId} · {r.pluginId}
              </div>
            </td>
            <td>
              <RecipientStateBadge active={r.active} parked={r.parked} parkedReason={r.parkedReason} />
            </td>
            <td class="num">{r.backlog}</td>
            <td>{r.backlog > 0 ? age(r.oldestWaitingSeconds) : '—'}</td>
            <td class="num">{r.errors > 0 ? <Link href={`/requests?state=ERROR&recipient=${encodeURIComponent(r.businessId)}`}>{r.errors}</Link> : 0}</td>
            <td class="num">{r.lastHour.delivered}</td>
            <td class="num">{r.lastHour.failed}</td>
            <td>
              <DayOfDeliveries name={r.label || r.businessId} hourly={r.hourly} />
            </td>
          </tr>
        )}
      />
    </section>
  )
}
