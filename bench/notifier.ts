import { randomUUID } from 'node:crypto'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Connection } from 'rabbitmq-client'
import { openPglite, openPostgres } from '../src/db/client.ts'
import { migrateOrThrow } from '../src/db/migrate.ts'
import { importNotifierConfig } from '../src/notifier/config-import.ts'
import type { Backend } from '../src/db/client.ts'
import { association, configFile, pluginConf } from '../test/support/herald.ts'
import { createVhost, storageSecrets, type TestStorage } from '../test/support/services.ts'
import { cpuPerRequest, cpuSample, LoadClient, percentile, progress, type CpuSample, type Figure } from './harness.ts'
import { spawnNode, startHeraldProcess } from '../test/support/herald-process.ts'

const RECIPIENTS = ['bench-a', 'bench-b']
const here = path.dirname(fileURLToPath(import.meta.url))

/** The ceiling worker's prefetch: larger than Herald's default intake batch (500), so it never waits for it. */
const CEILING_PREFETCH = 2000

/** The broker's ceiling: what the bare worker reached, the reference for each of Herald's figures. */
export interface BrokerCeiling {
  /** Requests per second, published as fast as the broker confirms them (as Herald's sustained run). */
  rate: number
  /** Open-loop latency at `latencyRate`, publish to SUCCESS, in ms. */
  latencyRate: number
  p50: number
  p99: number
  /** CPU per request during the open-loop run, µs. */
  cpu: CpuSample
}

/**
 * The broker's ceiling for Herald's AMQP work, measured exactly as Herald is: the same load client and
 * queue, a separate process (bench/broker-ceiling-worker.ts) that consumes each request and publishes its
 * GRANTED event, its two deliveries and its SUCCESS event with confirms — no database, no logic.
 */
export async function brokerCeiling(opts: { count: number; latencyRate: number; latencySeconds: number }): Promise<BrokerCeiling> {
  progress('broker ceiling: starting the bare worker')
  const vhost = await createVhost()
  const worker = spawnNode(['--import', 'tsx', path.join(here, 'broker-ceiling-worker.ts'), vhost.url, String(CEILING_PREFETCH), ...RECIPIENTS.map((id) => `bench.${id}`)])
  const client = new LoadClient(vhost.url)
  try {
    await waitReady(vhost.url)
    await client.listen()
    await declareRecipientQueues(client)
    await warmUp(client)
    progress(`broker ceiling: ${opts.count} requests as fast as possible`)
    const { rate } = await sustainedRun(client, opts.count)
    const { latencies, cpu } = await openLoop(client, opts.latencyRate, opts.latencySeconds, 'broker ceiling', worker.pid)
    return { rate, latencyRate: opts.latencyRate, p50: percentile(latencies, 50), p99: percentile(latencies, 99), cpu }
  } finally {
    await client.close()
    await worker.stop()
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
  await importNotifierConfig(database.db, storageSecrets(storage), 'bench', configFile([
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
export async function runNotifierBench(opts: { backend: Backend; sizes: number[]; latencyRate: number; latencySeconds: number; halfLoadSeconds?: number; ceiling?: BrokerCeiling }): Promise<NotifierBench> {
  progress(`notifier/${opts.backend}: starting Herald`)
  const herald = await startHeraldProcess(opts.backend, configure)
  const client = new LoadClient(herald.vhost.url)
  try {
    await waitReady(herald.vhost.url)
    await client.listen()
    await declareRecipientQueues(client)
    progress(`notifier/${opts.backend}: warm-up`)
    await warmUp(client)

    const scaling: ScalingPoint[] = []
    let series: TimePoint[] = []
    for (const count of opts.sizes) {
      progress(`notifier/${opts.backend}: ${count} requests as fast as possible`)
      const run = await sustainedRun(client, count)
      scaling.push({ count, seconds: run.seconds, rate: run.rate, rssMiB: herald.herald.peakRssMiB() })
      if (count === Math.max(...opts.sizes)) series = run.series
    }
    const sustained = scaling[scaling.length - 1].rate

    const { latencies, grantedLatencies, cpu } = await openLoop(client, opts.latencyRate, opts.latencySeconds, `notifier/${opts.backend}`, herald.herald.pid)
    // The same at half the measured capacity: latency when Herald keeps up, not queueing time.
    const halfRate = Math.max(10, Math.round(sustained / 2 / 10) * 10)
    const half = opts.halfLoadSeconds ? await openLoop(client, halfRate, opts.halfLoadSeconds, `notifier/${opts.backend}`, herald.herald.pid) : undefined
    const tag = `${opts.backend}`
    const pg = opts.backend === 'postgres'
    // Latency and CPU references only when the ceiling ran at the same rate.
    const ceiling = opts.ceiling?.latencyRate === opts.latencyRate ? opts.ceiling : undefined
    const bare = 'bare worker, same rate'
    return {
      scaling,
      series,
      figures: [
        {
          name: `notifier.${tag}.sustained`,
          value: sustained,
          unit: 'requests/s',
          target: pg ? '≥ 3000' : undefined,
          reference: opts.ceiling?.rate,
          referenceName: opts.ceiling ? 'broker ceiling (same AMQP work, no database)' : undefined,
        },
        ...(pg && opts.ceiling
          ? [{ name: `notifier.${tag}.share_of_ceiling`, value: (100 * sustained) / opts.ceiling.rate, unit: '%', target: '≥ 30' }]
          : []),
        { name: `notifier.${tag}.vs_regards`, value: sustained, unit: 'requests/s', reference: 83, referenceName: 'REGARDS notifier, its own test' },
        { name: `notifier.${tag}.p50_at_${opts.latencyRate}`, value: percentile(latencies, 50), unit: 'ms', reference: ceiling?.p50, referenceName: ceiling && bare },
        { name: `notifier.${tag}.p99_at_${opts.latencyRate}`, value: percentile(latencies, 99), unit: 'ms', target: pg ? '≤ 250' : undefined, reference: ceiling?.p99, referenceName: ceiling && bare },
        // The first answer alone (intake and outbox, no delivery): where the end-to-end time goes.
        { name: `notifier.${tag}.granted_p50_at_${opts.latencyRate}`, value: percentile(grantedLatencies, 50), unit: 'ms' },
        { name: `notifier.${tag}.granted_p99_at_${opts.latencyRate}`, value: percentile(grantedLatencies, 99), unit: 'ms' },
        ...(half
          ? [
              { name: `notifier.${tag}.p50_at_${halfRate}`, value: percentile(half.latencies, 50), unit: 'ms', reference: 3000, referenceName: 'REGARDS scheduler cycle' },
              { name: `notifier.${tag}.p99_at_${halfRate}`, value: percentile(half.latencies, 99), unit: 'ms' },
            ]
          : []),
        // Where the CPU goes per request, at the latency run's rate: the machine's 2 cores are shared by all four.
        ...(['rabbitmq', 'process', 'postgresql', 'loadClient'] as const).map((part) => ({
          name: `notifier.${tag}.cpu_per_request.${part === 'process' ? 'herald' : part}`,
          value: cpu[part],
          unit: 'µs',
          reference: ceiling && part !== 'postgresql' ? ceiling.cpu[part] : undefined,
          referenceName: ceiling && part !== 'postgresql' ? bare : undefined,
        })),
        { name: `notifier.${tag}.peak_rss`, value: herald.herald.peakRssMiB(), unit: 'MiB' },
      ],
    }
  } finally {
    await client.close()
    await herald.stop()
  }
}

/** Warm-up: connections, compiled rules, declared recipient exchanges. */
async function warmUp(client: LoadClient): Promise<void> {
  await publishAll(200, (id) => client.publish(id))
  await client.waitAllDone(200, 60_000)
  client.clear()
}

/** `count` requests published as fast as the broker confirms them, until every terminal event arrived. */
async function sustainedRun(client: LoadClient, count: number): Promise<{ seconds: number; rate: number; series: TimePoint[] }> {
  const started = performance.now()
  await publishAll(count, (id) => client.publish(id))
  await client.waitAllDone(count, 300_000)
  const seconds = (performance.now() - started) / 1000
  const series = bucket(client, started, 500)
  client.clear()
  return { seconds, rate: count / seconds, series }
}

/** A plain queue per recipient exchange, capped at 10,000 messages (oldest dropped): a recipient that keeps up. */
async function declareRecipientQueues(client: LoadClient): Promise<void> {
  for (const id of RECIPIENTS) {
    await client.rabbit.exchangeDeclare({ exchange: `bench.${id}`, type: 'fanout', durable: true })
    await client.rabbit.queueDeclare({ queue: `bench.${id}.plain`, durable: true, arguments: { 'x-max-length': 10_000 } })
    await client.rabbit.queueBind({ queue: `bench.${id}.plain`, exchange: `bench.${id}`, routingKey: '' })
  }
}

/**
 * Open-loop load at a fixed rate (one tick every 10 ms): the sorted latencies, publish → terminal event,
 * and the CPU each part used per request meanwhile (`pid`: the process under test).
 */
async function openLoop(client: LoadClient, rate: number, seconds: number, label: string, pid: number): Promise<{ latencies: number[]; grantedLatencies: number[]; cpu: CpuSample }> {
  progress(`${label}: ${rate} requests/s for ${seconds} s`)
  client.clear()
  const total = Math.round(rate * seconds)
  const perTick = rate / 100
  const cpuBefore = cpuSample(pid)
  const t0 = performance.now()
  const pending: Promise<void>[] = []
  for (let sent = 0; sent < total; ) {
    for (let i = 0; i < perTick && sent < total; i++, sent++) pending.push(client.publish(randomUUID()))
    const next = t0 + (sent / rate) * 1000
    await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())))
  }
  await Promise.all(pending)
  await client.waitAllDone(total, 120_000)
  const cpu = cpuPerRequest(cpuBefore, cpuSample(pid), total)
  const since = (arrived: Map<string, number>) => [...arrived].map(([id, at]) => at - client.sentAt.get(id)!).sort((a, b) => a - b)
  return { latencies: since(client.doneAt), grantedLatencies: since(client.grantedAt), cpu }
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


// `node --import tsx bench/notifier.ts`: the broker ceiling and the PostgreSQL run alone (about 1 min).
if (import.meta.url === `file://${process.argv[1]}`) {
  const ceiling = await brokerCeiling({ count: 10_000, latencyRate: 1000, latencySeconds: 10 })
  const run = await runNotifierBench({ backend: 'postgres', sizes: [10_000], latencyRate: 1000, latencySeconds: 10, ceiling })
  console.log(`broker ceiling: ${ceiling.rate.toFixed(0)} requests/s, p50/p99 ${ceiling.p50.toFixed(0)}/${ceiling.p99.toFixed(0)} ms at 1000/s, CPU µs/request ${JSON.stringify(ceiling.cpu, (_, v) => (typeof v === 'number' ? Math.round(v) : v))}`)
  for (const f of run.figures) console.log(`${f.name}: ${f.value.toFixed(1)} ${f.unit}${f.reference ? ` (ref ${f.reference.toFixed(1)})` : ''}`)
  process.exit(0)
}
