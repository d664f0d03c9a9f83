import { randomUUID } from 'node:crypto'
import { Connection } from 'rabbitmq-client'
import { openPglite, openPostgres } from '../src/db/client.ts'
import { migrateOrThrow } from '../src/db/migrate.ts'
import { importNotifierConfig } from '../src/notifier/config-import.ts'
import type { Backend } from '../src/db/client.ts'
import { association, configFile, pluginConf } from '../test/support/herald.ts'
import { createVhost, type TestStorage } from '../test/support/services.ts'
import { LoadClient, percentile, progress, sampleRequest, startHeraldProcess, type Figure } from './harness.ts'

const RECIPIENTS = ['bench-a', 'bench-b']

/**
 * The broker's own ceiling for Herald's AMQP work: consume each request and publish, with confirms, the
 * four messages Herald publishes for it (GRANTED, two deliveries, SUCCESS). No database.
 */
export async function brokerCeiling(count: number): Promise<number> {
  const vhost = await createVhost()
  const rabbit = new Connection({ url: vhost.url, noDelay: true })
  rabbit.on('error', () => {})
  try {
    await rabbit.queueDeclare({ queue: 'ceiling.in', durable: true, arguments: { 'x-max-priority': 255 } })
    await rabbit.exchangeDeclare({ exchange: 'ceiling.out', type: 'fanout', durable: true })
    await rabbit.queueDeclare({ queue: 'ceiling.out.q', durable: true })
    await rabbit.queueBind({ queue: 'ceiling.out.q', exchange: 'ceiling.out' })
    const out = rabbit.createPublisher({ confirm: true })
    const input = rabbit.createPublisher({ confirm: true })
    let done = 0
    let finish: () => void = () => {}
    const finished = new Promise<void>((r) => (finish = r))
    const consumer = rabbit.createConsumer({ queue: 'ceiling.in', queueOptions: { passive: true }, qos: { prefetchCount: 500 }, concurrency: 500 }, async (msg) => {
      const body = msg.body as Buffer
      await Promise.all([0, 1, 2, 3].map(() => out.send({ exchange: 'ceiling.out', durable: true, headers: msg.headers }, body)))
      if (++done === count) finish()
    })
    const started = performance.now()
    await publishAll(count, (id) =>
      input.send({ routingKey: 'ceiling.in', durable: true, priority: 1, headers: { 'regards.request.id': id } }, Buffer.from(JSON.stringify(sampleRequest(id)))),
    )
    await finished
    const rate = count / ((performance.now() - started) / 1000)
    await consumer.close()
    await out.close()
    await input.close()
    return rate
  } finally {
    await rabbit.close()
    await vhost.drop()
  }
}

/** Publishes `count` messages with at most 1,000 unconfirmed at a time. */
async function publishAll(count: number, publish: (id: string) => Promise<void>): Promise<void> {
  const window = new Set<Promise<void>>()
  for (let i = 0; i < count; i++) {
    const p = publish(randomUUID()).finally(() => window.delete(p))
    window.add(p)
    if (window.size >= 1000) await Promise.race(window)
  }
  await Promise.all(window)
}

async function configure(storage: TestStorage) {
  const database = storage.databaseUrl ? await openPostgres(storage.databaseUrl, 2) : await openPglite(storage.dataDir)
  await migrateOrThrow(database.db)
  await importNotifierConfig(database.db, 'bench', configFile([
    // No queueName: the sender would declare a REGARDS priority queue (x-max-priority 255) that nobody reads,
    // whose growing backlog slows the broker down run after run. The bench binds a bounded plain queue
    // instead (see declareRecipientQueues): the broker still enqueues every delivery.
    ...RECIPIENTS.map((id) => pluginConf('RabbitMQSender', id, { exchange: `bench.${id}`, recipientLabel: id })),
    pluginConf('LuceneRuleMatcher', 'created', { metadata_rule: 'action:CREATED', payload_rule: 'properties.is_valid:true AND properties.type:/L2_.*/' }),
    association('created', RECIPIENTS),
  ]))
  await database.close()
}

/** One sustained run of a scaling series: `count` requests as fast as possible. */
export interface ScalingPoint {
  count: number
  seconds: number
  rate: number
  /** Herald's peak RSS (VmHWM) after this run, in MiB: the same process runs 1×, 2× then 4×. */
  rssMiB: number
}

/** Completions and latency of a run, per time bucket (for the report's chart). */
export interface TimePoint {
  t: number
  perSecond: number
  latencyMs: number
}

export interface NotifierBench {
  figures: Figure[]
  scaling: ScalingPoint[]
  /** The largest sustained run, bucketed. */
  series: TimePoint[]
}

/**
 * Herald end to end: requests published by a REGARDS client → SUCCESS events received, with two
 * matched RabbitMQSender recipients per request. Sustained runs at each of `sizes` (1×, 2×, 4×: is it
 * linear, does memory stay bounded?), then open-loop latency at a fixed rate.
 */
export async function runNotifierBench(opts: { backend: Backend; sizes: number[]; latencyRate: number; latencySeconds: number; halfLoadSeconds?: number; brokerCeiling?: number }): Promise<NotifierBench> {
  progress(`notifier/${opts.backend}: starting Herald`)
  const herald = await startHeraldProcess(opts.backend, configure)
  const client = new LoadClient(herald.vhost.url)
  try {
    await waitReady(herald.vhost.url)
    await client.listen()
    await declareRecipientQueues(client)
    progress(`notifier/${opts.backend}: warm-up`)
    // Warm-up: connections, compiled rules, declared recipient exchanges.
    await publishAll(200, (id) => client.publish(id))
    await client.waitAllDone(200, 60_000)
    client.doneAt.clear()
    client.sentAt.clear()

    const scaling: ScalingPoint[] = []
    let series: TimePoint[] = []
    for (const count of opts.sizes) {
      progress(`notifier/${opts.backend}: ${count} requests as fast as possible`)
      const started = performance.now()
      await publishAll(count, (id) => client.publish(id))
      await client.waitAllDone(count, 300_000)
      const seconds = (performance.now() - started) / 1000
      scaling.push({ count, seconds, rate: count / seconds, rssMiB: herald.herald.peakRssMiB() })
      if (count === Math.max(...opts.sizes)) series = bucket(client, started, 500)
      client.doneAt.clear()
      client.sentAt.clear()
    }
    const sustained = scaling[scaling.length - 1].rate

    const latencies = await openLoop(client, opts.latencyRate, opts.latencySeconds, opts.backend)
    // The same at half the measured capacity: latency when Herald keeps up, not queueing time.
    const halfRate = Math.max(10, Math.round(sustained / 2 / 10) * 10)
    const halfLatencies = opts.halfLoadSeconds ? await openLoop(client, halfRate, opts.halfLoadSeconds, opts.backend) : undefined
    const tag = `${opts.backend}`
    const pg = opts.backend === 'postgres'
    return {
      scaling,
      series,
      figures: [
        {
          name: `notifier.${tag}.sustained`,
          value: sustained,
          unit: 'requests/s',
          target: pg ? '≥ 3000' : undefined,
          reference: opts.brokerCeiling,
          referenceName: opts.brokerCeiling ? 'broker ceiling (same AMQP work, no database)' : undefined,
        },
        { name: `notifier.${tag}.vs_regards`, value: sustained, unit: 'requests/s', reference: 83, referenceName: 'REGARDS notifier, its own test' },
        { name: `notifier.${tag}.p50_at_${opts.latencyRate}`, value: percentile(latencies, 50), unit: 'ms', reference: 3000, referenceName: 'REGARDS scheduler cycle' },
        { name: `notifier.${tag}.p99_at_${opts.latencyRate}`, value: percentile(latencies, 99), unit: 'ms', target: pg ? '≤ 250' : undefined },
        ...(halfLatencies
          ? [
              { name: `notifier.${tag}.p50_at_${halfRate}`, value: percentile(halfLatencies, 50), unit: 'ms' },
              { name: `notifier.${tag}.p99_at_${halfRate}`, value: percentile(halfLatencies, 99), unit: 'ms' },
            ]
          : []),
        { name: `notifier.${tag}.peak_rss`, value: herald.herald.peakRssMiB(), unit: 'MiB' },
      ],
    }
  } finally {
    await client.close()
    await herald.stop()
  }
}

/** A plain queue per recipient exchange, capped at 10,000 messages (oldest dropped): a recipient that keeps up. */
async function declareRecipientQueues(client: LoadClient): Promise<void> {
  for (const id of RECIPIENTS) {
    await client.rabbit.exchangeDeclare({ exchange: `bench.${id}`, type: 'fanout', durable: true })
    await client.rabbit.queueDeclare({ queue: `bench.${id}.plain`, durable: true, arguments: { 'x-max-length': 10_000 } })
    await client.rabbit.queueBind({ queue: `bench.${id}.plain`, exchange: `bench.${id}`, routingKey: '' })
  }
}

/** Open-loop load at a fixed rate (one tick every 10 ms); returns the sorted latencies, publish → terminal event. */
async function openLoop(client: LoadClient, rate: number, seconds: number, backend: string): Promise<number[]> {
  progress(`notifier/${backend}: ${rate} requests/s for ${seconds} s`)
  client.doneAt.clear()
  client.sentAt.clear()
  const total = Math.round(rate * seconds)
  const perTick = rate / 100
  const t0 = performance.now()
  const pending: Promise<void>[] = []
  for (let sent = 0; sent < total; ) {
    for (let i = 0; i < perTick && sent < total; i++, sent++) pending.push(client.publish(randomUUID()))
    const next = t0 + (sent / rate) * 1000
    await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())))
  }
  await Promise.all(pending)
  await client.waitAllDone(total, 120_000)
  return [...client.doneAt].map(([id, at]) => at - client.sentAt.get(id)!).sort((a, b) => a - b)
}

/** Completions per second and their mean latency, per `ms` bucket since `started`. */
function bucket(client: LoadClient, started: number, ms: number): TimePoint[] {
  const buckets = new Map<number, { n: number; latency: number }>()
  for (const [id, at] of client.doneAt) {
    const k = Math.floor((at - started) / ms)
    const b = buckets.get(k) ?? { n: 0, latency: 0 }
    b.n++
    b.latency += at - (client.sentAt.get(id) ?? at)
    buckets.set(k, b)
  }
  const last = Math.max(0, ...buckets.keys())
  const points: TimePoint[] = []
  for (let k = 0; k <= last; k++) {
    const b = buckets.get(k) ?? { n: 0, latency: 0 }
    points.push({ t: ((k + 1) * ms) / 1000, perSecond: (b.n * 1000) / ms, latencyMs: b.n ? b.latency / b.n : NaN })
  }
  return points
}

/** The figures only (sustained, p50, p99), as before. */
export async function benchNotifier(opts: { backend: Backend; sustainedCount: number; latencyRate: number; latencySeconds: number }): Promise<Figure[]> {
  const run = await runNotifierBench({ backend: opts.backend, sizes: [opts.sustainedCount], latencyRate: opts.latencyRate, latencySeconds: opts.latencySeconds })
  return run.figures
}

/** Waits until Herald's consumer queue has a consumer (the process finished starting). */
async function waitReady(url: string): Promise<void> {
  const { NOTIFICATION_REQUEST_QUEUE } = await import('../src/amqp/topology.ts')
  const rabbit = new Connection({ url, noDelay: true })
  rabbit.on('error', () => {})
  try {
    for (let i = 0; i < 300; i++) {
      try {
        const ok = await rabbit.queueDeclare({ queue: NOTIFICATION_REQUEST_QUEUE, passive: true })
        if (ok.consumerCount > 0) return
      } catch {
        // not declared yet
      }
      await new Promise((r) => setTimeout(r, 200))
    }
    throw new Error('Herald did not start consuming within 60 s')
  } finally {
    await rabbit.close()
  }
}


if (import.meta.url === `file://${process.argv[1]}`) {
  const ceiling = await brokerCeiling(10_000)
  const figures = await benchNotifier({ backend: 'postgres', sustainedCount: 10_000, latencyRate: 1000, latencySeconds: 10 })
  console.log(`broker ceiling: ${ceiling.toFixed(0)} requests/s`)
  for (const f of figures) console.log(`${f.name}: ${f.value.toFixed(1)} ${f.unit}`)
  process.exit(0)
}
