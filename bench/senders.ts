import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import { Worker } from 'node:worker_threads'
import { sql } from 'kysely'
import { Pool } from 'undici'
import { NOTIFICATION_REQUEST_QUEUE } from '../src/amqp/topology.ts'
import { openPostgres } from '../src/db/client.ts'
import { migrateOrThrow } from '../src/db/migrate.ts'
import { importNotifierConfig } from '../src/notifier/config-import.ts'
import { parkRecipient } from '../src/notifier/recipient-state.ts'
import { association, configFile, pluginConf } from '../test/support/herald.ts'
import { storageSecrets, type TestStorage } from '../test/support/services.ts'
import { LoadClient, percentile, progress, sampleRequest, type Figure } from './harness.ts'
import { startHeraldProcess, waitConsumers } from '../test/support/herald-process.ts'

/*
 * WebhookSender throughput, against a local receiver whose own ceiling is measured in the same run:
 *   1. the receiver's ceiling (undici Pool, 64 concurrent POSTs of ≈1 KB);
 *   2. deliveries/s through Herald to one webhook recipient (first → N-th POST received), and requests/s to SUCCESS;
 *   3. the same for a `steady` recipient while a `dead` one is parked with a backlog of waiting deliveries.
 * The receiver runs in a worker thread, so neither the load client nor the ceiling client shares its event loop.
 */

const TENANT = 'bench'

// Shared counters with the receiver thread (Float64: absolute times in ms since the epoch, sub-ms precision).
// maxSockets: the most connections open at once while requests arrive (sockets is never reset).
// record: 1 while the receiver notes when each request id's first POST arrived (see `takeArrivals`).
const SLOT = { count: 0, target: 1, firstAt: 2, nthAt: 3, inFlight: 4, maxInFlight: 5, sockets: 6, record: 7 } as const

const RECEIVER_SOURCE = `
const http = require('node:http')
const { parentPort, workerData } = require('node:worker_threads')
const s = new Float64Array(workerData)
const now = () => performance.timeOrigin + performance.now()
// [requestId, epoch ms] of each POST while recording: the default body starts with {"requestId":"…".
let arrivals = []
const server = http.createServer((req, res) => {
  s[${SLOT.inFlight}]++
  if (s[${SLOT.sockets}] > s[${SLOT.maxInFlight}]) s[${SLOT.maxInFlight}] = s[${SLOT.sockets}]
  let head = ''
  req.on('data', (chunk) => { if (s[${SLOT.record}] && head.length < 80) head += chunk.toString('latin1', 0, 80) })
  req.on('end', () => {
    const n = ++s[${SLOT.count}]
    const t = now()
    if (n === 1) s[${SLOT.firstAt}] = t
    if (n === s[${SLOT.target}]) s[${SLOT.nthAt}] = t
    const id = head && /"requestId":"([^"]+)"/.exec(head)
    if (id) arrivals.push([id[1], t])
    s[${SLOT.inFlight}]--
    res.writeHead(204).end()
  })
})
server.keepAliveTimeout = 60000
server.on('connection', (socket) => {
  s[${SLOT.sockets}]++
  socket.on('close', () => { s[${SLOT.sockets}]-- })
})
server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port))
parentPort.on('message', (m) => {
  if (m === 'arrivals') { parentPort.postMessage(arrivals); arrivals = [] }
  if (m === 'close') { server.closeAllConnections(); server.close(() => process.exit(0)) }
})
`

class Receiver {
  readonly #shared = new SharedArrayBuffer(8 * 8)
  readonly s = new Float64Array(this.#shared)
  #worker: Worker | undefined
  port = 0

  async start(): Promise<void> {
    this.#worker = new Worker(RECEIVER_SOURCE, { eval: true, workerData: this.#shared })
    this.port = await new Promise<number>((resolve, reject) => {
      this.#worker!.once('message', resolve)
      this.#worker!.once('error', reject)
    })
  }

  get url() {
    return `http://127.0.0.1:${this.port}/hook`
  }

  /** Zeroes the counters; the time of the `target`-th request is recorded. */
  reset(target: number): void {
    // Plain writes from two threads: only done while nothing is being sent.
    const sockets = this.s[SLOT.sockets]
    this.s.fill(0)
    this.s[SLOT.sockets] = sockets
    this.s[SLOT.target] = target
  }

  get count() {
    return this.s[SLOT.count]
  }

  async waitCount(n: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (this.count < n) {
      if (Date.now() > deadline) throw new Error(`receiver got ${this.count}/${n} POSTs in ${timeoutMs} ms`)
      await new Promise((r) => setTimeout(r, 10))
    }
  }

  /** Deliveries/s from the first POST received to the target-th one. */
  rate(): number {
    const n = this.s[SLOT.target]
    return (n - 1) / ((this.s[SLOT.nthAt] - this.s[SLOT.firstAt]) / 1000)
  }

  /** Starts noting when each request's first POST arrives. */
  record(on: boolean): void {
    this.s[SLOT.record] = on ? 1 : 0
  }

  /** When each request id's first POST arrived (epoch ms) since the last call; recording stops. */
  async takeArrivals(): Promise<Map<string, number>> {
    this.record(false)
    const reply = new Promise<[string, number][]>((r) => this.#worker!.once('message', r))
    this.#worker!.postMessage('arrivals')
    const arrivals = new Map<string, number>()
    for (const [id, at] of await reply) if (!arrivals.has(id)) arrivals.set(id, at)
    return arrivals
  }

  async close(): Promise<void> {
    if (!this.#worker) return
    const exited = new Promise((r) => this.#worker!.once('exit', r))
    this.#worker.postMessage('close')
    const timer = setTimeout(() => void this.#worker?.terminate(), 3000)
    await exited
    clearTimeout(timer)
  }
}

/** The receiver's own ceiling: the same POSTs (≈1 KB JSON, same headers) from an undici Pool, 64 at a time. */
async function receiverCeiling(receiver: Receiver, count: number, concurrency = 64): Promise<number> {
  const pool = new Pool(`http://127.0.0.1:${receiver.port}`, { connections: concurrency })
  const body = JSON.stringify({ requestId: randomUUID(), requestOwner: 'bench', requestDate: new Date().toISOString(), ...sampleRequest(randomUUID()) })
  const headers = { 'content-type': 'application/json', 'user-agent': 'Herald-Webhook/1', 'webhook-id': 'herald-1', 'webhook-timestamp': '1' }
  const once = async () => {
    const res = await pool.request({ path: '/hook', method: 'POST', headers, body })
    await res.body.dump()
    if (res.statusCode !== 204) throw new Error(`receiver answered ${res.statusCode}`)
  }
  try {
    // Warm-up: open the connections.
    await Promise.all(Array.from({ length: concurrency }, once))
    receiver.reset(count)
    let next = 0
    const started = performance.now()
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next++ < count) await once()
      }),
    )
    return count / ((performance.now() - started) / 1000)
  } finally {
    await pool.close()
  }
}

/** CPU seconds (user + system) used so far by a process, from /proc; NaN when unavailable. */
function cpuSeconds(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return NaN
  }
}

/** A TCP port on 127.0.0.1 where nothing listens (bound, then released). */
async function deadPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const port = (server.address() as net.AddressInfo).port
  await new Promise((r) => server.close(r))
  return port
}

/** Publishes `count` requests with at most 1,000 unconfirmed at a time. */
async function publishAll(client: LoadClient, count: number): Promise<void> {
  const window = new Set<Promise<void>>()
  for (let i = 0; i < count; i++) {
    const p = client.publish(randomUUID(), TENANT).finally(() => window.delete(p))
    window.add(p)
    if (window.size >= 1000) await Promise.race(window)
  }
  await Promise.all(window)
}

// The receiver listens on loopback: the instance must allow it (recipients opt in with allowPrivateNetwork).
const LOOPBACK_RECEIVER = { HERALD_ALLOW_PRIVATE_NETWORKS: '127.0.0.0/8' }

const webhook = (id: string, url: string, extra: Record<string, string> = {}) =>
  pluginConf('WebhookSender', id, { url, allowPrivateNetwork: true, recipientLabel: id, batchSize: '200', maxBatchesInFlight: '4', ...extra })

// Backlog rows are inserted in chunks of 250,000, four at a time, each chunk one statement (request and
// delivery together): 1,000,000 took 21 s here (load average 4).
const BACKLOG_CHUNK = 250_000
const BACKLOG_WRITERS = 4

async function configure(storage: TestStorage, configuration: unknown[], backlog?: { recipient: string; count: number; park: boolean }): Promise<void> {
  const database = await openPostgres(storage.databaseUrl!, BACKLOG_WRITERS)
  try {
    await migrateOrThrow(database.db)
    await importNotifierConfig(database.db, storageSecrets(storage), TENANT, configFile(configuration))
    if (!backlog) return
    const { rows } = await sql<{ id: string }>`select id from plugin_configuration where tenant = ${TENANT} and business_id = ${backlog.recipient}`.execute(database.db)
    const recipientId = Number(rows[0].id)
    const sample = sampleRequest('backlog')
    const chunks = Array.from({ length: Math.ceil(backlog.count / BACKLOG_CHUNK) }, (_, i) => [i * BACKLOG_CHUNK + 1, Math.min(backlog.count, (i + 1) * BACKLOG_CHUNK)])
    let next = 0
    // Request ids `backlog-<n>`, so the end of a run can count exactly these deliveries.
    const writer = async () => {
      for (let chunk = chunks[next++]; chunk; chunk = chunks[next++]) {
        await sql`with r as (
            insert into notification_request (tenant, request_id, request_owner, request_date, not_before, mode, state, payload, metadata, updated_at)
            select ${TENANT}, 'backlog-' || g, 'bench', now() - interval '1 minute', now(), 'RULES', 'SCHEDULED',
              ${JSON.stringify(sample.payload)}::jsonb, ${JSON.stringify(sample.metadata)}::jsonb, now()
            from generate_series(${chunk[0]}::int, ${chunk[1]}::int) g
            returning id, tenant, request_date)
          insert into delivery (tenant, request_pk, recipient_id, state, priority, request_date)
          select tenant, id, ${recipientId}, 'PENDING', 0, request_date from r`.execute(database.db)
      }
    }
    await Promise.all(Array.from({ length: BACKLOG_WRITERS }, writer))
    await sql`analyze notification_request`.execute(database.db)
    await sql`analyze delivery`.execute(database.db)
    if (backlog.park) await parkRecipient(database.db, { id: recipientId, tenant: TENANT }, 'bench: dead recipient with a backlog')
  } finally {
    await database.close()
  }
}

interface WebhookRun {
  /** First → N-th POST received, per second. */
  deliveries: number
  /** Publish of the first request → SUCCESS of the N-th, per second (NaN when not waited for). */
  endToEnd: number
  /** Most connections open at the receiver at once during the run. */
  maxSockets: number
  received: number
  /** Herald's CPU use during the measured run, in cores (1 = one core busy all the time). */
  heraldCores: number
  /** Herald's peak RSS (VmHWM) from its start to the end of the run, in MiB. */
  peakRssMiB: number
}

type Herald = Awaited<ReturnType<typeof startHeraldProcess>>

/**
 * Starts Herald with `prepare`, warms up, then sends `count` requests and measures them at the receiver;
 * `atEnd` runs before Herald stops and its database is dropped.
 */
async function runWebhook(
  label: string,
  receiver: Receiver,
  count: number,
  prepare: (storage: TestStorage) => Promise<void>,
  waitSuccess: boolean,
  atEnd?: (herald: Herald) => Promise<void>,
): Promise<WebhookRun> {
  progress(`senders/${label}: starting Herald`)
  const herald = await startHeraldProcess('postgres', prepare, LOOPBACK_RECEIVER)
  const client = new LoadClient(herald.vhost.url)
  try {
    await waitConsumers(herald.vhost.url, NOTIFICATION_REQUEST_QUEUE)
    await client.listen()
    progress(`senders/${label}: warm-up`)
    receiver.reset(200)
    await publishAll(client, 200)
    await receiver.waitCount(200, 60_000)
    if (waitSuccess) await client.waitAllDone(200, 60_000)
    await new Promise((r) => setTimeout(r, 300))
    client.clear()

    progress(`senders/${label}: ${count} requests`)
    receiver.reset(count)
    const started = performance.now()
    const cpu0 = cpuSeconds(herald.herald.pid)
    await publishAll(client, count)
    await receiver.waitCount(count, 120_000)
    const heraldCores = (cpuSeconds(herald.herald.pid) - cpu0) / ((performance.now() - started) / 1000)
    let endToEnd = NaN
    if (waitSuccess) {
      await client.waitAllDone(count, 120_000)
      endToEnd = count / ((performance.now() - started) / 1000)
    }
    await new Promise((r) => setTimeout(r, 200))
    const peakRssMiB = herald.herald.peakRssMiB()
    await atEnd?.(herald)
    return { deliveries: receiver.rate(), endToEnd, maxSockets: receiver.s[SLOT.maxInFlight], received: receiver.count, heraldCores, peakRssMiB }
  } finally {
    await client.close().catch(() => {})
    await herald.stop()
  }
}

interface OpenLoopRun {
  /** Publish → first POST received of each request, sorted, in ms. */
  latencies: number[]
  /** Requests/s actually published (the timer may fall behind the offered rate). */
  published: number
  /** Deliveries/s at the receiver, first → last POST received. */
  delivered: number
}

/**
 * Open-loop load on one webhook recipient: `rate` requests/s for `seconds` (one tick every 10 ms, as the
 * notifier's open-loop run), each request's latency publish → POST received at the receiver.
 */
async function runWebhookOpenLoop(receiver: Receiver, rate: number, seconds: number, configuration: unknown[]): Promise<OpenLoopRun> {
  progress(`senders/open-loop: starting Herald`)
  const herald = await startHeraldProcess('postgres', (storage) => configure(storage, configuration), LOOPBACK_RECEIVER)
  const client = new LoadClient(herald.vhost.url)
  try {
    await waitConsumers(herald.vhost.url, NOTIFICATION_REQUEST_QUEUE)
    receiver.reset(200)
    await publishAll(client, 200)
    await receiver.waitCount(200, 60_000)
    await new Promise((r) => setTimeout(r, 500))

    progress(`senders/open-loop: ${rate} requests/s for ${seconds} s`)
    const total = Math.round(rate * seconds)
    receiver.reset(total)
    await receiver.takeArrivals()
    receiver.record(true)
    const sentAt = new Map<string, number>()
    const pending: Promise<void>[] = []
    const perTick = rate / 100
    const t0 = performance.now()
    for (let sent = 0; sent < total; ) {
      for (let i = 0; i < perTick && sent < total; i++, sent++) {
        const id = randomUUID()
        sentAt.set(id, performance.timeOrigin + performance.now())
        pending.push(client.publish(id, TENANT))
      }
      const next = t0 + (sent / rate) * 1000
      await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())))
    }
    const published = total / ((performance.now() - t0) / 1000)
    await Promise.all(pending)
    await receiver.waitCount(total, 120_000)
    const arrivals = await receiver.takeArrivals()
    const latencies = [...sentAt].flatMap(([id, at]) => (arrivals.has(id) ? [arrivals.get(id)! - at] : [])).sort((a, b) => a - b)
    if (latencies.length < total) throw new Error(`open loop: ${latencies.length}/${total} requests seen at the receiver`)
    return { latencies, published, delivered: receiver.rate() }
  } finally {
    await client.close().catch(() => {})
    await herald.stop()
  }
}

/**
 * The sender alone, without the intake: `count` PENDING deliveries inserted in SQL before Herald starts,
 * drained to the receiver (first → last POST received).
 */
async function drainBacklog(receiver: Receiver, count: number, configuration: unknown[]): Promise<{ deliveries: number; heraldCores: number; maxSockets: number }> {
  progress(`senders/drain: starting Herald on ${count} waiting deliveries`)
  receiver.reset(count)
  const herald = await startHeraldProcess('postgres', (storage) => configure(storage, configuration, { recipient: 'hook', count, park: false }), LOOPBACK_RECEIVER)
  try {
    await receiver.waitCount(1, 60_000)
    const started = performance.now()
    const cpu0 = cpuSeconds(herald.herald.pid)
    await receiver.waitCount(count, 120_000)
    const heraldCores = (cpuSeconds(herald.herald.pid) - cpu0) / ((performance.now() - started) / 1000)
    return { deliveries: receiver.rate(), heraldCores, maxSockets: receiver.s[SLOT.maxInFlight] }
  } finally {
    await herald.stop()
  }
}

export async function benchSenders(opts: { quick?: boolean } = {}): Promise<Figure[]> {
  const quick = opts.quick ?? false
  const count = quick ? 2_000 : 10_000
  const ceilingCount = quick ? 5_000 : 20_000
  const backlog = quick ? 20_000 : 100_000
  const receiver = new Receiver()
  await receiver.start()
  try {
    progress(`senders: receiver ceiling, ${ceilingCount} POSTs, 64 concurrent`)
    const ceiling = await receiverCeiling(receiver, ceilingCount)

    const match = pluginConf('LuceneRuleMatcher', 'all', {})
    const single = await runWebhook('single', receiver, count, (storage) => configure(storage, [webhook('hook', receiver.url), match, association('all', ['hook'])]), true)

    const offered = 1000
    const open = await runWebhookOpenLoop(receiver, offered, quick ? 2 : 5, [webhook('hook', receiver.url), match, association('all', ['hook'])])
    // Sustained: the receiver saw the offered rate (within 3 %); otherwise the latencies are those of the rate achieved, a queue growing.
    const sustained = open.delivered >= offered * 0.97
    const openNote = sustained ? `at ${offered}/s offered, sustained` : `NOT sustained: ${open.delivered.toFixed(0)}/s achieved of ${offered}/s offered, latencies at that rate`
    progress(`senders/open-loop: published ${open.published.toFixed(0)}/s, received ${open.delivered.toFixed(0)}/s, p50 ${percentile(open.latencies, 50).toFixed(1)} ms, p99 ${percentile(open.latencies, 99).toFixed(1)} ms`)

    const drain = await drainBacklog(receiver, count, [webhook('hook', receiver.url), match, association('all', ['hook'])])
    progress(`senders/drain: at most ${drain.maxSockets} connections open, Herald used ${drain.heraldCores.toFixed(2)} cores`)

    const dead = `http://127.0.0.1:${await deadPort()}/hook`
    const isolated = await runWebhook(
      'parked',
      receiver,
      count,
      (storage) =>
        configure(
          storage,
          [webhook('steady', receiver.url), webhook('dead', dead, { parkAfterFailures: '5', probeIntervalMs: '60000' }), match, association('all', ['steady', 'dead'])],
          { recipient: 'dead', count: backlog, park: true },
        ),
      // The requests also wait on `dead`: they never reach SUCCESS, steady's rate is measured at the receiver.
      false,
    )
    for (const [name, run] of [['single', single], ['parked', isolated]] as const) {
      progress(`senders/${name}: ${run.received} POSTs received, at most ${run.maxSockets} connections open, Herald used ${run.heraldCores.toFixed(2)} cores (machine: ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)})`)
    }

    return [
      { name: 'senders.receiver_ceiling', value: ceiling, unit: 'requests/s', target: 'reference (undici Pool, 64 concurrent, ≈1 KB)' },
      { name: 'senders.webhook.deliveries', value: single.deliveries, unit: 'deliveries/s', reference: ceiling, referenceName: 'receiver ceiling', target: '≥ 2000' },
      { name: 'senders.webhook.drain_backlog', value: drain.deliveries, unit: 'deliveries/s', reference: ceiling, referenceName: 'receiver ceiling', target: '≥ 2000' },
      { name: 'senders.webhook.end_to_end', value: single.endToEnd, unit: 'requests/s', reference: ceiling, referenceName: 'receiver ceiling' },
      {
        name: `senders.webhook.with_parked_backlog_${backlog}`,
        value: isolated.deliveries,
        unit: 'deliveries/s',
        reference: single.deliveries,
        referenceName: 'webhook deliveries/s without a parked recipient',
        target: 'ratio ≥ 0.8',
      },
      { name: `senders.webhook.rate_at_${offered}`, value: open.delivered, unit: 'deliveries/s', reference: offered, referenceName: 'offered, open loop', target: openNote },
      { name: `senders.webhook.p50_at_${offered}`, value: percentile(open.latencies, 50), unit: 'ms', target: `publish → POST received, ${openNote}` },
      { name: `senders.webhook.p99_at_${offered}`, value: percentile(open.latencies, 99), unit: 'ms', target: `publish → POST received, ${openNote}` },
      { name: 'senders.webhook.connections', value: single.maxSockets, unit: 'connections', reference: 64, referenceName: 'POSTs Herald may have in flight (16 per batch × maxBatchesInFlight 4)' },
      { name: 'senders.webhook.herald_cpu', value: single.heraldCores, unit: 'cores' },
      { name: 'senders.webhook.drain_herald_cpu', value: drain.heraldCores, unit: 'cores' },
    ]
  } finally {
    await receiver.close()
  }
}

/**
 * A tenant with a parked recipient and `backlog` deliveries waiting behind it (inserted in SQL before
 * Herald starts), and `count` requests for an unparked one: Herald's peak RSS, and the unparked
 * recipient's deliveries/s next to the same run without the backlog. The backlog must still be there,
 * untouched (PENDING, no attempt), at the end.
 */
export async function benchParkedBacklog(opts: { backlog: number; count?: number }): Promise<Figure[]> {
  const count = opts.count ?? 5_000
  const receiver = new Receiver()
  await receiver.start()
  try {
    const dead = `http://127.0.0.1:${await deadPort()}/hook`
    const configuration = [
      webhook('steady', receiver.url),
      webhook('dead', dead, { parkAfterFailures: '5', probeIntervalMs: '60000' }),
      pluginConf('LuceneRuleMatcher', 'all', {}),
      association('all', ['steady', 'dead']),
    ]
    // The requests also wait on `dead`: they never reach SUCCESS, steady's rate is measured at the receiver.
    const without = await runWebhook('parked-no-backlog', receiver, count, (storage) => configure(storage, configuration, { recipient: 'dead', count: 0, park: true }), false)
    let filledS = 0
    let untouched = 0
    let databaseMiB = 0
    const withBacklog = await runWebhook(
      `parked-backlog-${opts.backlog}`,
      receiver,
      count,
      async (storage) => {
        progress(`scale/parked: inserting ${opts.backlog} waiting deliveries`)
        const t = performance.now()
        await configure(storage, configuration, { recipient: 'dead', count: opts.backlog, park: true })
        filledS = (performance.now() - t) / 1000
        progress(`scale/parked: ${opts.backlog} deliveries inserted in ${filledS.toFixed(0)} s`)
      },
      false,
      async (herald) => {
        const database = await openPostgres(herald.storage.databaseUrl!, 1)
        try {
          const { rows } = await sql<{ n: string }>`select count(*) as n from delivery d join notification_request r on r.id = d.request_pk
            where r.tenant = ${TENANT} and r.request_id like 'backlog-%' and d.state = 'PENDING' and d.attempts = 0 and d.sent_at is null`.execute(database.db)
          untouched = Number(rows[0].n)
          const size = await sql<{ bytes: string }>`select pg_database_size(current_database()) as bytes`.execute(database.db)
          databaseMiB = Number(size.rows[0].bytes) / 2 ** 20
        } finally {
          await database.close()
        }
      },
    )
    progress(
      `scale/parked: steady ${withBacklog.deliveries.toFixed(0)} deliveries/s with the backlog, ${without.deliveries.toFixed(0)} without; ` +
        `peak RSS ${withBacklog.peakRssMiB.toFixed(0)} MiB (${without.peakRssMiB.toFixed(0)} without); ${untouched}/${opts.backlog} backlog deliveries untouched (load ${os.loadavg()[0].toFixed(1)})`,
    )
    if (untouched !== opts.backlog) throw new Error(`parked backlog: ${untouched}/${opts.backlog} deliveries still PENDING without an attempt at the end`)
    return [
      { name: 'scale.parked_backlog.backlog', value: opts.backlog, unit: 'deliveries', target: `waiting behind a parked recipient, all untouched at the end; inserted in ${filledS.toFixed(0)} s, database ${databaseMiB.toFixed(0)} MiB at the end` },
      { name: 'scale.parked_backlog.herald_peak_rss', value: withBacklog.peakRssMiB, unit: 'MiB', reference: without.peakRssMiB, referenceName: 'peak RSS without the backlog', target: '≤ 300' },
      {
        name: 'scale.parked_backlog.other_rate',
        value: withBacklog.deliveries,
        unit: 'deliveries/s',
        reference: without.deliveries,
        referenceName: `unparked recipient without the backlog, ${count} requests`,
        target: 'ratio ≥ 0.8',
      },
    ]
  } finally {
    await receiver.close()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const started = performance.now()
  const figures = await benchSenders({ quick: process.argv.includes('--quick') })
  for (const f of figures) {
    const ref = f.reference !== undefined ? `   vs ${f.reference.toFixed(0)} (${f.referenceName})  ratio ${(f.value / f.reference).toFixed(2)}` : ''
    console.log(`${f.name}: ${f.value.toFixed(f.value < 10 ? 2 : 0)} ${f.unit}${ref}${f.target ? `   target ${f.target}` : ''}`)
  }
  progress(`senders: ${((performance.now() - started) / 1000).toFixed(0)} s`)
  process.exit(0)
}
