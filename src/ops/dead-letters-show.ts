import { getDeadLetters } from '../dead-letters/store.ts'
import { ERR_NOT_FOUND } from '../errors.ts'
import { withoutTenant, type DeadLetterSummary } from './dead-letters-list.ts'
import type { OpsDeps } from './deps.ts'
import { authorize, type Principal } from './principal.ts'

export interface DeadLetterDetail extends DeadLetterSummary {
  headers: Record<string, unknown>
  properties: Record<string, unknown>
  /** The body as text when it is UTF-8, else base64 (`bodyEncoding`). */
  body: string
  bodyEncoding: 'utf8' | 'base64'
}

/** One dead-lettered message of the tenant: headers, properties and body. */
export async function deadLettersShow(deps: OpsDeps, principal: Principal, input: { id: number }): Promise<DeadLetterDetail> {
  authorize(principal, 'read')
  const [message] = await getDeadLetters(deps.db, { tenant: principal.tenant }, [input.id])
  if (!message) throw ERR_NOT_FOUND(`no dead letter ${input.id} in tenant ${principal.tenant}`)
  const text = message.body.toString('utf8')
  const body = Buffer.from(text, 'utf8').equals(message.body) ? { body: text, bodyEncoding: 'utf8' as const } : { body: message.body.toString('base64'), bodyEncoding: 'base64' as const }
  return { ...withoutTenant(message), headers: message.headers, properties: message.properties, ...body }
}
