import { countDeadLetters } from '../dead-letters/store.ts'
import { ACTIVITY_HOURS, deliveryActivity, intakePerMinute, type ActivityCount } from '../notifier/delivery-activity.ts'
import { listRecipients, recipientStates } from '../notifier/recipient-listing.ts'
import type { RecipientState } from '../views.ts'
import type { OpsDeps } from './deps.ts'
import { authorize, type Principal } from './principal.ts'

export interface OverviewRecipient extends Pick<RecipientState, 'backlog' | 'sending' | 'errors' | 'oldestWaitingSeconds' | 'parked' | 'parkedReason'> {
  businessId: string
  label: string
  pluginId: string
  active: boolean
  /** Deliveries sent, and attempts failed, in the hour before `at`. */
  lastHour: ActivityCount
  /** The last 24 hours, oldest first: `hourly[23]` is the last hour. */
  hourly: ActivityCount[]
}

export interface Overview {
  /** The instant the figures are taken at; every window ends there. */
  at: Date
  recipients: OverviewRecipient[]
  intake: {
    /** Requests received in the last hour. */
    lastHour: number
    /** Requests received per minute over the last hour, oldest first. */
    perMinute: number[]
  }
  /** Dead-lettered messages of the tenant waiting for an operator (replay or discard). */
  deadLetters: number
}

/** What the tenant's dissemination is doing now: per recipient backlog and last day of deliveries, intake rate, dead letters. */
export async function overviewShow(deps: OpsDeps, principal: Principal): Promise<Overview> {
  authorize(principal, 'read')
  const tenant = principal.tenant
  const at = new Date()
  const rows = await listRecipients(deps.db, tenant, {})
  const [states, activity, intake, deadLetters] = await Promise.all([
    recipientStates(deps.db, tenant, rows.map((r) => r.id)),
    deliveryActivity(deps.db, tenant, at),
    intakePerMinute(deps.db, tenant, at),
    countDeadLetters(deps.db),
  ])
  const idle = () => Array.from({ length: ACTIVITY_HOURS }, () => ({ delivered: 0, failed: 0 }))
  return {
    at,
    recipients: rows.map((row) => {
      const { backlog, sending, errors, oldestWaitingSeconds, parked, parkedReason } = states.get(row.id)!
      const hoursAgo = activity.get(row.business_id) ?? idle()
      return {
        businessId: row.business_id,
        label: row.label,
        pluginId: row.plugin_id,
        active: row.active,
        backlog,
        sending,
        errors,
        oldestWaitingSeconds,
        parked,
        parkedReason,
        lastHour: hoursAgo[0],
        hourly: [...hoursAgo].reverse(),
      }
    }),
    intake: { lastHour: intake.reduce((a, b) => a + b, 0), perMinute: [...intake].reverse() },
    deadLetters: deadLetters.filter((d) => d.tenant === tenant).reduce((sum, d) => sum + d.count, 0),
  }
}
