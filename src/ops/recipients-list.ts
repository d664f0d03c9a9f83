import { listRecipients, viewRecipients, type RecipientView } from '../notifier/recipient-listing.ts'
import type { OpsDeps } from './deps.ts'
import { decodeCursor, pageLimit, toPage, type Page, type PageInput } from './page.ts'
import { authorize, type Principal } from './principal.ts'

export interface RecipientsListInput extends PageInput {
  /** Absent: all; true: the direct-enabled only; false: the others (REGARDS `GET /recipients`). */
  directNotificationEnabled?: boolean
  active?: boolean
}

/** The tenant's recipients by businessId, with their live state (backlog, last error, parked). */
export async function recipientsList(deps: OpsDeps, principal: Principal, input: RecipientsListInput): Promise<Page<RecipientView>> {
  authorize(principal, 'read')
  const limit = pageLimit(input)
  const after = decodeCursor(input.cursor, ['string'])
  // A tenant has tens to hundreds of recipients, read at once; the plugin decides directNotificationEnabled.
  const all = await listRecipients(deps.db, principal.tenant, { directNotificationEnabled: input.directNotificationEnabled, active: input.active })
  const rows = (after ? all.filter((r) => r.business_id > after[0]) : all).slice(0, limit + 1)
  const views = new Map((await viewRecipients(deps.db, principal.tenant, rows.slice(0, limit))).map((v) => [v.businessId, v]))
  return toPage(rows, limit, (r) => [r.business_id], (r) => views.get(r.business_id)!)
}
