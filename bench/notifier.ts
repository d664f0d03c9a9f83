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
import { CpuMeter, LoadClient, percentile, progress, type CpuSample, type Figure } from './harness.ts'
import { spawnNode, startHeraldProcess } from '../test/support/herald-process.ts'
import { describeProfile, PgProfiler, type PgProfile } from './pg-profile.ts'
import { postgresFloor } from './postgres-floor.ts'

const RECIPIENTS = ['bench-a', 'bench-b']
export const RECIPIENT_EXCHANGES = RECIPIENTS.map((id) => `bench.${id}`)
const here = path.dirname(fileURLToPath(import.meta.url))

/** The ceiling worker's prefetch: larger than Herald's default intake batch (500), so it never waits for it. */
const CEILING_PREFETCH = 2000

/** Latency publish → SUCCESS and its three stages, sorted, in ms, under an open-loop load. */
export interface Latencies {
  rate: number
  /** Publish → terminal event. */
  total: number[]
  /** Publish → GRANTED: intake, its transaction and the event. */
  granted: number[]
  /** GRANTED → the last recipient's copy received: claim and send. */
  sent: number[]
  /** Last copy received → SUCCESS: recording the result, completion and the event. */
  success: number[]
}

/** The broker's ceiling: what the bare worker reached, the reference for each of Herald's figures. */
export interface BrokerCeiling {
  /** Requests per second, published as fast as the broker confirms them (as Herald's sustained run). */
  rate: number
  /** CPU per request during that run, µs. */
  cpu: CpuSample
  /** Open-loop latency at half `rate`. */
  half: Latencies
}

/**
 * The broker's ceiling for Herald's AMQP work, measured exactly as Herald is: the same load client,
 * queue and recipients' reader, a separate process (bench/broker-ceiling-worker.ts) that consumes each
 * request and publishes its GRANTED event, its two deliveries and its SUCCESS event with confirms — no
 * database, no logic. Then the same worker's latency under an open-loop load of half that rate.
 */
export async function brokerCeiling(opts: { count: number; halfSeconds: number }): Promise<BrokerCeiling> {
  progress('broker ceiling: starting the bare worker')
  const vhost = await createVhost()
  const worker = spawnNode(['--import', 'tsx', path.join(here, 'broker-ceiling-worker.ts'), vhost.url, String(CEILING_PREFETCH), ...RECIPIENT_EXCHANGES])
  const client = new LoadClient(vhost.url)
  const meter = new CpuMeter([worker.pid])
  try {
    await waitReady(vhost.url)
    await client.listen()
    await client.readRecipients(RECIPIENT_EXCHANGES)
    await warmUp(client)
    progress(`broker ceiling: ${opts.count} requests as fast as possible`)
    const { rate, cpu } = await sustainedRun(client, opts.count, meter)
    const half = await openLoop(client, halfRateOf(rate), opts.halfSeconds, 'broker ceiling')
    return { rate, cpu, half }
  } finally {
    await meter.close()
    await client.close()
    await worker.stop()
    await vhost.drop()
  }
}

/** Half a sustained rate, rounded to 10/s: the load at which latency is the pipeline's, not queueing. */
const halfRateOf = (rate: number) => Math.max(10, Math.round(rate / 2 / 10) * 10)

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

export async function configure(storage: TestStorage) {
  const database = storage.databaseUrl ? await openPostgres(storage.databaseUrl, 2) : await openPglite(storage.dataDir)
  await migrateOrThrow(database.db)
  await importNotifierConfig(database.db, storageSecrets(storage), 'bench', configFile([
    // No queueName: the sender would declare a REGARDS priority queue (x-max-priority 255), slower to
    // drain on RabbitMQ 3.10. The load client reads each exchange through a plain queue of its own
    // (LoadClient.readRecipients): the broker still enqueues and delivers every copy.
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
  /** PostgreSQL's statements over the largest sustained run (with `profile`). */
  profile?: PgProfile
}

/**
 * Herald end to end: requests published by a REGARDS client → SUCCESS events received, with two
 * matched RabbitMQSender recipients per request whose copies the client reads. Sustained runs at each of
 * `sizes` (1×, 2×, 4×: is it linear, does memory stay bounded?), CPU per request over the largest, then
 * open-loop latency at half the broker's ceiling (half Herald's own sustained rate without a ceiling).
 */
export async function runNotifierBench(opts: { backend: Backend; sizes: number[]; halfSeconds: number; ceiling?: BrokerCeiling; profile?: boolean }): Promise<NotifierBench> {
  progress(`notifier/${opts.backend}: starting Herald`)
  const herald = await startHeraldProcess(opts.backend, configure)
  const client = new LoadClient(herald.vhost.url)
  const meter = new CpuMeter([herald.herald.pid], herald.storage.databaseUrl)
  try {
    await waitReady(herald.vhost.url)
    await client.listen()
    await client.readRecipients(RECIPIENT_EXCHANGES)
    progress(`notifier/${opts.backend}: warm-up`)
    await warmUp(client)

    const scaling: ScalingPoint[] = []
    let series: TimePoint[] = []
    let cpu: CpuSample | undefined
    let profile: PgProfile | undefined
    const largest = Math.max(...opts.sizes)
    for (const count of opts.sizes) {
      progress(`notifier/${opts.backend}: ${count} requests as fast as possible`)
      const profiler = opts.profile && count === largest && herald.storage.databaseUrl ? new PgProfiler(herald.storage.databaseUrl) : undefined
      await profiler?.start()
      const run = await sustainedRun(client, count, meter)
      if (profiler) {
        profile = await profiler.finish(count)
        for (const line of describeProfile(profile)) progress(line)
      }
      scaling.push({ count, seconds: run.seconds, rate: run.rate, rssMiB: herald.herald.peakRssMiB() })
      if (count === largest) {
        series = run.series
        cpu = run.cpu
      }
    }
    const sustained = scaling[scaling.length - 1].rate
    // Batches of 50: Herald's intake batches of 51 and delivery batches of 25 (docs/benchmarks.md).
    const floor = opts.backend === 'postgres' ? await postgresFloor({ requests: largest, batchSize: 50 }) : undefined
    const ceiling = opts.ceiling
    const halfRate = ceiling?.half.rate ?? halfRateOf(sustained)
    const half = await openLoop(client, halfRate, opts.halfSeconds, `notifier/${opts.backend}`)
    const tag = `notifier.${opts.backend}`
    // At half the broker's ceiling when there is one (the targets' load), else at half Herald's own rate.
    const at = ceiling ? 'half_ceiling' : String(halfRate)
    const bare = 'bare worker'
    const figures: Figure[] = [
      { name: `${tag}.sustained`, value: sustained, unit: 'requests/s', reference: ceiling?.rate, referenceName: ceiling && 'broker ceiling (same AMQP work, no database)' },
      ...(ceiling ? [{ name: `${tag}.sustained_to_ceiling`, value: sustained / ceiling.rate, unit: '×', target: '≥ 0.95' }] : []),
      { name: `${tag}.vs_regards`, value: sustained, unit: 'requests/s', reference: 83, referenceName: 'REGARDS notifier, its own test' },
      // Where the CPU goes per request over the largest sustained run: the machine's 2 cores are shared by all of them.
      { name: `${tag}.cpu_per_request.herald`, value: cpu!.process, unit: 'µs', reference: ceiling?.cpu.process, referenceName: ceiling && bare },
      { name: `${tag}.cpu_per_request.postgresql`, value: cpu!.postgresql, unit: 'µs', reference: floor, referenceName: floor === undefined ? undefined : 'the same rows alone (bench/postgres-floor.ts)' },
      ...(floor ? [{ name: 'postgres.floor.cpu_per_request', value: floor, unit: 'µs' }] : []),
      { name: `${tag}.cpu_per_request.postgresql_background`, value: cpu!.postgresqlBackground, unit: 'µs' },
      { name: `${tag}.cpu_per_request.rabbitmq`, value: cpu!.rabbitmq, unit: 'µs', reference: ceiling?.cpu.rabbitmq, referenceName: ceiling && bare },
      { name: `${tag}.cpu_per_request.loadClient`, value: cpu!.loadClient, unit: 'µs', reference: ceiling?.cpu.loadClient, referenceName: ceiling && bare },
      ...(ceiling ? [{ name: `${tag}.cpu_to_worker`, value: (cpu!.process + cpu!.postgresql) / ceiling.cpu.process, unit: '×', target: '≤ 2' }] : []),
      { name: `${tag}.half_load_rate`, value: halfRate, unit: 'requests/s' },
      ...latencyFigures(tag, at, half, ceiling?.half),
      { name: `${tag}.peak_rss`, value: herald.herald.peakRssMiB(), unit: 'MiB' },
    ]
    return { scaling, series, figures, profile }
  } finally {
    await meter.close()
    await client.close()
    await herald.stop()
  }
}

/** p50/p99 publish → SUCCESS at `at` and of its stages; the bare worker's at the same rate as reference. */
function latencyFigures(tag: string, at: string, l: Latencies, ref?: Latencies): Figure[] {
  const refName = ref && 'bare worker, same rate'
  const figures: Figure[] = [
    { name: `${tag}.p50_at_${at}`, value: percentile(l.total, 50), unit: 'ms', reference: ref && percentile(ref.total, 50), referenceName: refName },
    { name: `${tag}.p99_at_${at}`, value: percentile(l.total, 99), unit: 'ms', reference: ref && percentile(ref.total, 99), referenceName: refName, target: at === 'half_ceiling' ? '≤ 60' : undefined },
  ]
  for (const [stage, values, refValues] of [
    ['publish_to_granted', l.granted, ref?.granted],
    ['granted_to_sent', l.sent, ref?.sent],
    ['sent_to_success', l.success, ref?.success],
  ] as const) {
    for (const p of [50, 99]) {
      figures.push({ name: `${tag}.${stage}.p${p}_at_${at}`, value: percentile(values, p), unit: 'ms', reference: refValues && percentile(refValues, p), referenceName: refName })
    }
  }
  return figures
}

/** The broker ceiling's figures: rate, the worker's CPU per request, its latency at half its rate. */
export function ceilingFigures(c: BrokerCeiling): Figure[] {
  return [
    { name: 'broker.ceiling', value: c.rate, unit: 'requests/s' },
    { name: 'broker.ceiling.cpu_per_request.worker', value: c.cpu.process, unit: 'µs' },
    { name: 'broker.ceiling.cpu_per_request.rabbitmq', value: c.cpu.rabbitmq, unit: 'µs' },
    { name: 'broker.ceiling.cpu_per_request.loadClient', value: c.cpu.loadClient, unit: 'µs' },
    { name: 'broker.ceiling.half_load_rate', value: c.half.rate, unit: 'requests/s' },
    ...latencyFigures('broker.ceiling', 'half_ceiling', c.half).map((f) => ({ ...f, target: undefined })),
  ]
}

/** Warm-up: connections, compiled rules, declared recipient exchanges. */
export async function warmUp(client: LoadClient): Promise<void> {
  await publishAll(200, (id) => client.publish(id))
  await client.waitAllDone(200, 60_000)
  client.clear()
}

/** `count` requests published as fast as the broker confirms them, until every terminal event arrived. */
export async function sustainedRun(client: LoadClient, count: number, meter: CpuMeter): Promise<{ seconds: number; rate: number; series: TimePoint[]; cpu: CpuSample }> {
  const before = await meter.read()
  const started = performance.now()
  await publishAll(count, (id) => client.publish(id))
  await client.waitAllDone(count, 300_000)
  const seconds = (performance.now() - started) / 1000
  const cpu = CpuMeter.perRequest(before, await meter.read(), count)
  const series = bucket(client, started, 500)
  client.clear()
  return { seconds, rate: count / seconds, series, cpu }
}

/**
 * Open-loop load at a fixed rate (one tick every 10 ms): the sorted latencies publish → terminal event
 * and of each stage.
 */
async function openLoop(client: LoadClient, rate: number, seconds: number, label: string): Promise<Latencies> {
  progress(`${label}: ${rate} requests/s for ${seconds} s`)
  client.clear()
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
  // The last copies may reach the reader after their SUCCESS event (the sender records a delivery once
  // the broker confirmed it, not once a consumer got it): up to 1 s for them.
  for (let i = 0; i < 50 && client.receivedAt.size < total; i++) await new Promise((r) => setTimeout(r, 20))
  const between = (from: Map<string, number>, to: Map<string, number>) =>
    [...to].flatMap(([id, at]) => (from.has(id) ? [Math.max(0, at - from.get(id)!)] : [])).sort((a, b) => a - b)
  return {
    rate,
    total: between(client.sentAt, client.doneAt),
    granted: between(client.sentAt, client.grantedAt),
    sent: between(client.grantedAt, client.receivedAt),
    // 0 when a copy reached the reader after the SUCCESS event.
    success: between(client.receivedAt, client.doneAt),
  }
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

// `node --import tsx bench/notifier.ts [--profile]`: the broker ceiling and the PostgreSQL run alone (about 1 min).
if (import.meta.url === `file://${process.argv[1]}`) {
  const ceiling = await brokerCeiling({ count: 10_000, halfSeconds: 10 })
  const run = await runNotifierBench({ backend: 'postgres', sizes: [10_000], halfSeconds: 10, ceiling, profile: process.argv.includes('--profile') })
  for (const f of [...ceilingFigures(ceiling), ...run.figures]) console.log(`${f.name}: ${f.value.toFixed(2)} ${f.unit}${f.reference ? ` (ref ${f.reference.toFixed(1)})` : ''}${f.target ? ` target ${f.target}` : ''}`)
  process.exit(0)
}
