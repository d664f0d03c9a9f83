import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { Connection } from 'rabbitmq-client'
import { DLX, GLOBAL_DLQ } from '../amqp/topology.ts'
import { ERR_BROKER_UNAVAILABLE, ERR_NOT_FOUND } from '../errors.ts'

const run = promisify(execFile)

/**
 * A RabbitMQ dynamic shovel between two REGARDS (or Herald) instances: it takes the messages of a
 * queue on one broker/vhost and publishes them, headers unchanged, to an exchange on another. For
 * acknowledgements, it is defined on the origin instance A: source = B's ack staging queue (DisseminationAckSender's
 * `featureDisseminationQueueName`), destination = A's `…feature.dto.event.in.DisseminationAckEvent` exchange.
 */
export interface ShovelSpec {
  name: string
  /** The vhost the shovel parameter is defined in (REGARDS: `regards.multitenant.manager` on the destination). */
  vhost: string
  /** e.g. `amqp://user:password@broker-b:5672/regards.multitenant.manager` (vhost URL-encoded). */
  srcUri: string
  srcQueue: string
  /** e.g. `amqp:///regards.multitenant.manager` for the local broker. */
  destUri: string
  destExchange: string
  destExchangeKey?: string
  /** Default `on-confirm`: a message leaves the source only once the destination confirmed it. */
  ackMode?: 'on-confirm' | 'on-publish' | 'no-ack'
}

/** The JSON value of the `shovel` runtime parameter, with the REGARDS deployment's settings (§6.3). */
export function shovelDefinition(spec: ShovelSpec): Record<string, unknown> {
  const def: Record<string, unknown> = {
    'src-protocol': 'amqp091',
    'src-uri': spec.srcUri,
    'src-queue': spec.srcQueue,
    'src-delete-after': 'never',
    'dest-protocol': 'amqp091',
    'dest-uri': spec.destUri,
    'dest-exchange': spec.destExchange,
    'dest-add-forward-headers': false,
    'ack-mode': spec.ackMode ?? 'on-confirm',
  }
  if (spec.destExchangeKey !== undefined) def['dest-exchange-key'] = spec.destExchangeKey
  return def
}

/** The `rabbitmqctl` command that defines the shovel (for an operator to run on the broker host). */
export function shovelCommand(spec: ShovelSpec): string[] {
  return ['rabbitmqctl', 'set_parameter', '-p', spec.vhost, 'shovel', spec.name, JSON.stringify(shovelDefinition(spec))]
}

/**
 * Declares the source queue with REGARDS' arguments before the shovel starts: a shovel whose source queue is
 * missing declares it durable **without** arguments, and DisseminationAckSender's own declaration (priority 255,
 * DLX `regards.DLX`) would then fail with PRECONDITION_FAILED ("inequivalent arg"). Idempotent.
 */
export async function declareShovelSource(srcUri: string, queue: string, deadLetterRoutingKey = GLOBAL_DLQ): Promise<void> {
  // A source broker that does not answer is refused within 10 s instead of retried for ever.
  const rabbit = new Connection({ url: srcUri, retryLow: 100, retryHigh: 1000, acquireTimeout: 10_000 })
  rabbit.on('error', () => {})
  try {
    await rabbit.queueDeclare({
      queue,
      durable: true,
      arguments: { 'x-max-priority': 255, 'x-dead-letter-exchange': DLX, 'x-dead-letter-routing-key': deadLetterRoutingKey },
    })
  } catch (err) {
    // Without the URI's credentials: this message reaches the audit trail and the caller.
    const reason = (err instanceof Error ? err.message : String(err)).replace(/\/\/[^@/\s]*@/g, '//')
    throw ERR_BROKER_UNAVAILABLE(`cannot declare the source queue ${queue} on the source broker: ${reason}`)
  } finally {
    await rabbit.close()
  }
}

/** Declares the source queue (unless told not to) and defines the shovel with `rabbitmqctl`; HERALD_ERR_NOT_FOUND when the broker has no such vhost. */
export async function setShovel(spec: ShovelSpec, opts: { declareSource?: boolean; deadLetterRoutingKey?: string } = {}): Promise<void> {
  if (opts.declareSource !== false) await declareShovelSource(spec.srcUri, spec.srcQueue, opts.deadLetterRoutingKey)
  const [cmd, ...args] = shovelCommand(spec)
  await run(cmd, ['-q', ...args]).catch((err: { stderr?: string }) => {
    // rabbitmqctl's own words for it: "Validation failed … component shovel not found".
    if (/component shovel not found/.test(err.stderr ?? '')) {
      throw ERR_BROKER_UNAVAILABLE('the broker has no shovel plugin: enable it with `rabbitmq-plugins enable rabbitmq_shovel`, then define the shovel again')
    }
    if (/Virtual host .* does not exist/.test(err.stderr ?? '')) throw ERR_NOT_FOUND(`no vhost ${spec.vhost} on the broker`)
    throw rabbitmqctlFailure(err)
  })
}

/** Removes the shovel's parameter; HERALD_ERR_NOT_FOUND when the vhost has no such shovel. */
export async function clearShovel(vhost: string, name: string): Promise<void> {
  await run('rabbitmqctl', ['-q', 'clear_parameter', '-p', vhost, 'shovel', name]).catch((err: { stderr?: string }) => {
    if (/Parameter does not exist|no_such_vhost|does not exist/i.test(err.stderr ?? '')) throw ERR_NOT_FOUND(`no shovel ${name} in vhost ${vhost}`)
    throw rabbitmqctlFailure(err)
  })
}

/** rabbitmqctl missing on this host, or not reaching its broker: the operator's to fix, in rabbitmqctl's words. */
function rabbitmqctlFailure(err: { code?: unknown; stderr?: string; message?: string }): Error {
  if (err.code === 'ENOENT') return ERR_BROKER_UNAVAILABLE('rabbitmqctl is not installed on this host: shovels are defined with it')
  return ERR_BROKER_UNAVAILABLE(`rabbitmqctl failed: ${(err.stderr || err.message || String(err)).trim().slice(0, 500)}`)
}

export interface ShovelState {
  name: string
  vhost: string
  state: string
  termination_reason?: string
}

export async function shovelStatus(): Promise<ShovelState[]> {
  const { stdout } = await run('rabbitmqctl', ['-q', 'shovel_status', '--formatter', 'json']).catch((err: { stderr?: string }) => {
    throw rabbitmqctlFailure(err)
  })
  return stdout.trim() ? (JSON.parse(stdout) as ShovelState[]) : []
}

/** Waits until the shovel reports `running`; refused (HERALD_ERR_BROKER_UNAVAILABLE) with its last state otherwise. */
export async function waitShovelRunning(vhost: string, name: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last: ShovelState | undefined
  while (Date.now() < deadline) {
    last = (await shovelStatus()).find((s) => s.vhost === vhost && s.name === name)
    if (last?.state === 'running') return
    await new Promise((r) => setTimeout(r, 200))
  }
  throw ERR_BROKER_UNAVAILABLE(`shovel ${name} in vhost ${vhost} is not running: ${last ? `${last.state} ${last.termination_reason ?? ''}` : 'not found'}`)
}
