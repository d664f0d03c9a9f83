import { clearShovel, setShovel, shovelCommand, shovelStatus, waitShovelRunning, type ShovelSpec, type ShovelState } from '../catalog/shovel.ts'
import { ERR_VALIDATION } from '../errors.ts'
import { audited } from './audit.ts'
import type { OpsDeps } from './deps.ts'
import { authorize, type Principal } from './principal.ts'

export interface CatalogShovelSetInput extends ShovelSpec {
  /** Default true: declare the source queue with REGARDS' arguments first (src/catalog/shovel.ts). */
  declareSource?: boolean
  /** The source queue's dead-letter routing key when it is declared (default `regards.DLQ`). */
  deadLetterRoutingKey?: string
}

const ACK_MODES: readonly string[] = ['on-confirm', 'on-publish', 'no-ack'] satisfies ShovelSpec['ackMode'][]
const AMQP_URI = /^amqps?:\/\//

/** Refuses a shovel definition rabbitmqctl would refuse or misread, naming what is wrong. */
function checkSpec(spec: ShovelSpec): void {
  for (const key of ['name', 'vhost', 'srcUri', 'srcQueue', 'destUri', 'destExchange'] as const) {
    if (typeof spec[key] !== 'string' || spec[key] === '') throw ERR_VALIDATION(`${key} is required`)
  }
  if (!AMQP_URI.test(spec.srcUri)) throw ERR_VALIDATION('srcUri must be an amqp:// or amqps:// URI')
  if (!AMQP_URI.test(spec.destUri)) throw ERR_VALIDATION('destUri must be an amqp:// or amqps:// URI')
  if (spec.ackMode !== undefined && !ACK_MODES.includes(spec.ackMode)) throw ERR_VALIDATION(`ackMode must be one of ${ACK_MODES.join(', ')}`)
}

/**
 * Defines a RabbitMQ dynamic shovel between two instances and waits until it runs. The broker's
 * shovels are the deployment's, not a tenant's: the principal's tenant only records who defined it.
 */
export function catalogShovelSet(deps: OpsDeps, principal: Principal, input: CatalogShovelSetInput): Promise<{ name: string; vhost: string; state: 'running' }> {
  const { declareSource, deadLetterRoutingKey, ...spec } = input
  return audited(deps, principal, { action: 'catalog.shovel.set', target: `set ${spec.vhost}/${spec.name}`, access: 'admin' }, async () => {
    checkSpec(spec)
    await setShovel(spec, { declareSource, deadLetterRoutingKey })
    await waitShovelRunning(spec.vhost, spec.name)
    return { name: spec.name, vhost: spec.vhost, state: 'running' as const }
  })
}

/** The `rabbitmqctl` command that would define the shovel, for an operator to run on the broker host; changes nothing. */
export function catalogShovelCommand(principal: Principal, spec: ShovelSpec): string[] {
  authorize(principal, 'admin')
  checkSpec(spec)
  return shovelCommand(spec)
}

/** Removes a shovel; refused (not found) when the vhost has none of this name. */
export function catalogShovelClear(deps: OpsDeps, principal: Principal, input: { vhost: string; name: string }): Promise<{ name: string; vhost: string; cleared: true }> {
  return audited(deps, principal, { action: 'catalog.shovel.clear', target: `clear ${input.vhost}/${input.name}`, access: 'admin' }, async () => {
    if (!input.vhost || !input.name) throw ERR_VALIDATION('vhost and name are required')
    await clearShovel(input.vhost, input.name)
    return { name: input.name, vhost: input.vhost, cleared: true as const }
  })
}

/** The broker's shovels and their state (ADMIN: their definitions hold broker credentials). */
export function catalogShovelStatus(_deps: OpsDeps, principal: Principal): Promise<ShovelState[]> {
  authorize(principal, 'admin')
  return shovelStatus()
}
