import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { Connection } from 'rabbitmq-client'
import { DLX, GLOBAL_DLQ } from '../amqp/topology.ts'

const run = promisify(execFile)

/**
 * A RabbitMQ dynamic shovel between two REGARDS (or Herald) instances (reference §6.3): it takes the messages of a
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
  const rabbit = new Connection({ url: srcUri, retryLow: 100, retryHigh: 1000 })
  rabbit.on('error', () => {})
  try {
    await rabbit.queueDeclare({
      queue,
      durable: true,
      arguments: { 'x-max-priority': 255, 'x-dead-letter-exchange': DLX, 'x-dead-letter-routing-key': deadLetterRoutingKey },
    })
  } finally {
    await rabbit.close()
  }
}

/** Declares the source queue (unless told not to) and defines the shovel with `rabbitmqctl`. */
export async function setShovel(spec: ShovelSpec, opts: { declareSource?: boolean; deadLetterRoutingKey?: string } = {}): Promise<void> {
  if (opts.declareSource !== false) await declareShovelSource(spec.srcUri, spec.srcQueue, opts.deadLetterRoutingKey)
  const [cmd, ...args] = shovelCommand(spec)
  await run(cmd, ['-q', ...args]).catch((err: { stderr?: string }) => {
    // rabbitmqctl's own words for it: "Validation failed … component shovel not found".
    if (/component shovel not found/.test(err.stderr ?? '')) {
      throw new Error('the broker has no shovel plugin: enable it with `rabbitmq-plugins enable rabbitmq_shovel`, then define the shovel again')
    }
    throw err
  })
}

export async function clearShovel(vhost: string, name: string): Promise<void> {
  await run('rabbitmqctl', ['-q', 'clear_parameter', '-p', vhost, 'shovel', name])
}

export interface ShovelState {
  name: string
  vhost: string
  state: string
  termination_reason?: string
}

export async function shovelStatus(): Promise<ShovelState[]> {
  const { stdout } = await run('rabbitmqctl', ['-q', 'shovel_status', '--formatter', 'json'])
  return stdout.trim() ? (JSON.parse(stdout) as ShovelState[]) : []
}

/** Waits until the shovel reports `running`; throws with its last state otherwise. */
export async function waitShovelRunning(vhost: string, name: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last: ShovelState | undefined
  while (Date.now() < deadline) {
    last = (await shovelStatus()).find((s) => s.vhost === vhost && s.name === name)
    if (last?.state === 'running') return
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`shovel ${name} in vhost ${vhost} is not running: ${last ? `${last.state} ${last.termination_reason ?? ''}` : 'not found'}`)
}

const USAGE = `usage:
  shovel set --name N --vhost V --src-uri URI --src-queue Q --dest-uri URI --dest-exchange X
             [--dest-exchange-key K] [--ack-mode on-confirm|on-publish|no-ack]
             [--dead-letter-routing-key regards.DLQ] [--no-declare-source] [--print]
  shovel clear --name N --vhost V
  shovel status`

/** `shovel set|clear|status …` (scripts/shovel.sh runs this). Returns the exit code. */
export async function shovelCli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  const { values } = parseArgs({
    args: rest,
    options: {
      name: { type: 'string' },
      vhost: { type: 'string' },
      'src-uri': { type: 'string' },
      'src-queue': { type: 'string' },
      'dest-uri': { type: 'string' },
      'dest-exchange': { type: 'string' },
      'dest-exchange-key': { type: 'string' },
      'ack-mode': { type: 'string' },
      'dead-letter-routing-key': { type: 'string' },
      'no-declare-source': { type: 'boolean' },
      print: { type: 'boolean' },
    },
  })
  const need = (key: keyof typeof values): string => {
    const v = values[key]
    if (typeof v !== 'string' || v === '') throw new Error(`--${key} is required\n${USAGE}`)
    return v
  }
  if (command === 'status') {
    console.log(JSON.stringify(await shovelStatus(), null, 2))
    return 0
  }
  if (command === 'clear') {
    await clearShovel(need('vhost'), need('name'))
    return 0
  }
  if (command !== 'set') {
    console.error(USAGE)
    return 2
  }
  const spec: ShovelSpec = {
    name: need('name'),
    vhost: need('vhost'),
    srcUri: need('src-uri'),
    srcQueue: need('src-queue'),
    destUri: need('dest-uri'),
    destExchange: need('dest-exchange'),
    destExchangeKey: values['dest-exchange-key'],
    ackMode: values['ack-mode'] as ShovelSpec['ackMode'],
  }
  if (values.print) {
    console.log(shovelCommand(spec).map((a) => (/^[\w./:=-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' '))
    return 0
  }
  await setShovel(spec, { declareSource: !values['no-declare-source'], deadLetterRoutingKey: values['dead-letter-routing-key'] })
  await waitShovelRunning(spec.vhost, spec.name)
  console.log(`shovel ${spec.name} running: ${spec.srcQueue} → ${spec.destExchange}`)
  return 0
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  shovelCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error((err as Error).message)
      process.exit(1)
    },
  )
}
