import { Type } from 'typebox'
import { senderContext } from '../senders/sender-context.ts'
import { testRecipient, type RecipientTestOutcome } from '../senders/test-recipient.ts'
import { audited } from './audit.ts'
import type { OpsDeps } from './deps.ts'
import { checkBody, strict } from './plugin-input.ts'
import type { Principal } from './principal.ts'

const JsonObject = Type.Record(Type.String(), Type.Unknown())

/** What `POST /recipients/{businessId}/test` and `herald recipients test --file` take; `{}`: a built-in GeoJSON feature. */
export const RecipientTestBody = strict({ payload: Type.Optional(JsonObject), metadata: Type.Optional(JsonObject) }, { description: 'the product to send; no body: a built-in GeoJSON feature' })

/**
 * Sends one product through the recipient's real sender, whatever its state, and records nothing but the
 * audit entry: ADMIN only, since it reaches the outside with the recipient's secrets.
 */
export function recipientsTest(deps: OpsDeps, principal: Principal, input: { businessId: string; body: unknown }): Promise<RecipientTestOutcome> {
  return audited(
    deps,
    principal,
    { action: 'recipients.test', target: input.businessId, access: 'admin' },
    async () => {
      const sample = checkBody(RecipientTestBody, input.body)
      const { tenant } = principal
      return testRecipient(deps.db, deps.secrets, senderContext(deps, { tenant, businessId: input.businessId }), tenant, input.businessId, sample)
    },
    (o) => (o.delivered ? `delivered${o.answer ? ` (${o.answer})` : ''} in ${o.latencyMs} ms` : `not delivered: ${o.errorClass} ${o.message ?? ''}`),
  )
}
