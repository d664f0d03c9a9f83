import { replayDeadLetters, ReplayTargetError, type ReplayOutcome, type ReplayTarget } from '../dead-letters/replay.ts'
import { ERR_BROKER_UNAVAILABLE, ERR_NOT_FOUND, ERR_VALIDATION } from '../errors.ts'
import { audited } from './audit.ts'
import { selectedIds, selectionTarget, type DeadLetterSelection } from './dead-letters-selection.ts'
import type { OpsDeps } from './deps.ts'
import type { Principal } from './principal.ts'

const CONNECT_TIMEOUT_MS = 10_000

export interface DeadLettersReplayInput extends DeadLetterSelection {
  /** queue (default): back to the queue it failed in; exchange: to its original exchange, every bound queue. */
  target?: ReplayTarget
  onProgress?: (replayed: number) => void
}

/**
 * Re-injects dead letters with their original headers; each row is deleted once the broker confirmed it.
 *
 * Back into the queue it failed in, a replay is a retry (EXPLOIT may): the consumer that failed gets the
 * same message again, and the notifier's request-id deduplication absorbs one processed already. To the
 * original exchange it reaches every queue bound there, other systems' included: ADMIN only.
 *
 * No worker is woken: the consumers receive the message from the broker at once, and the intake wakes
 * the delivery workers for what it registers.
 */
export function deadLettersReplay(deps: OpsDeps, principal: Principal, input: DeadLettersReplayInput): Promise<ReplayOutcome> {
  const target = input.target ?? 'queue'
  return audited(deps, principal, { action: 'dead-letters.replay', target: `${selectionTarget(input)} target=${target}`, access: target === 'exchange' ? 'admin' : 'retry' }, async () => {
    if (target !== 'queue' && target !== 'exchange') throw ERR_VALIDATION('target must be queue or exchange')
    const ids = selectedIds(input)
    try {
      await deps.broker.connection.onConnect(CONNECT_TIMEOUT_MS, true)
    } catch (err) {
      throw ERR_BROKER_UNAVAILABLE(`nothing was replayed: ${(err as Error).message}`)
    }
    let outcome: ReplayOutcome
    try {
      outcome = await replayDeadLetters(deps.db, deps.broker.connection, { tenant: principal.tenant, queue: input.queue }, ids, target, input.onProgress)
    } catch (err) {
      if (err instanceof ReplayTargetError) throw ERR_VALIDATION(`${err.message}; nothing was published`)
      if (!deps.broker.ready) throw ERR_BROKER_UNAVAILABLE(String((err as Error).message ?? err))
      throw err
    }
    if (input.id !== undefined && outcome.replayed.length === 0) throw ERR_NOT_FOUND(`no dead letter ${input.id} in tenant ${principal.tenant}`)
    return outcome
  }, (o) => `replayed ${o.replayed.length}${o.missing.length > 0 ? `, not found: ${o.missing.join(',').slice(0, 500)}` : ''}`)
}
