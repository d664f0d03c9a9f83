import { deleteDeadLetters } from '../dead-letters/store.ts'
import { ERR_NOT_FOUND } from '../errors.ts'
import { audited } from './audit.ts'
import { selectedIds, selectionTarget, type DeadLetterSelection } from './dead-letters-selection.ts'
import type { OpsDeps } from './deps.ts'
import type { Principal } from './principal.ts'

/** Discards dead letters for good (ADMIN: the message is lost). */
export function deadLettersDiscard(deps: OpsDeps, principal: Principal, input: DeadLetterSelection): Promise<{ discarded: number }> {
  return audited(deps, principal, { action: 'dead-letters.discard', target: selectionTarget(input), access: 'admin' }, async () => {
    const discarded = await deleteDeadLetters(deps.db, { tenant: principal.tenant, queue: input.queue }, selectedIds(input))
    if (input.id !== undefined && discarded === 0) throw ERR_NOT_FOUND(`no dead letter ${input.id} in tenant ${principal.tenant}`)
    return { discarded }
  }, (r) => `discarded ${r.discarded}`)
}
