import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { Connection } from 'rabbitmq-client'
import { NOTIFICATION_REQUEST_EXCHANGE, NOTIFIER_EVENT_EXCHANGE } from '../src/amqp/topology.ts'
import { PG_ADMIN_URL } from '../test/support/services.ts'

export interface Figure {
  name: string
  value: number
  unit: string
  /** The same work's reference measured in the same run, when there is one. */
  reference?: number
  /** What the reference is (the broker's ceiling, REGARDS' own figure, …). */
  referenceName?: string
  target?: string
}

/** Progress goes to stderr, so the figures on stdout stay machine-readable. */
export const progress = (line: string) => process.stderr.write(`[bench] ${line}\n`)

export const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
export const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50)

/** A REGARDS client for load: confirmed publishing of requests and a counter of terminal events. */
export class LoadClient {
  readonly rabbit: Connection
  readonly publisher
  readonly sentAt = new Map<string, number>()
  readonly doneAt = new Map<string, number>()
  /** When GRANTED arrived: Herald's first answer, before any delivery. */
  readonly grantedAt = new Map<string, number>()
  /** When the last recipient's copy of a request arrived at the recipients' reader (see `readRecipients`). */
  readonly receivedAt = new Map<string, number>()
  readonly #copies = new Map<string, number>()
  #recipients = 0
  #onDone: (() => void) | undefined
  readonly #consumers: { close(): Promise<void> }[] = []

  constructor(url: string) {
    this.rabbit = new Connection({ url, noDelay: true })
    this.rabbit.on('error', () => {})
    this.publisher = this.rabbit.createPublisher({ confirm: true })
  }

  async listen(): Promise<void> {
    const queue = `bench.events.${randomUUID()}`
    await this.rabbit.exchangeDeclare({ exchange: NOTIFIER_EVENT_EXCHANGE, type: 'fanout', durable: true })
    const consumer = this.rabbit.createConsumer(
      { queue, queueOptions: { exclusive: true }, queueBindings: [{ queue, exchange: NOTIFIER_EVENT_EXCHANGE }], qos: { prefetchCount: 2000 }, noAck: true },
      (msg) => {
        const body = JSON.parse((msg.body as Buffer).toString('utf8'))
        if (body.state === 'GRANTED') this.grantedAt.set(body.requestId, performance.now())
        else if (body.state === 'SUCCESS' || body.state === 'ERROR' || body.state === 'DENIED') {
          this.doneAt.set(body.requestId, performance.now())
          this.#onDone?.()
        }
      },
    )
    await new Promise<void>((r) => consumer.once('ready', () => r()))
    this.#consumers.push(consumer)
  }

  /**
   * Reads each recipient exchange through a plain queue of its own, as a recipient that keeps up would
   * (capped at 10,000 messages, oldest dropped, should it fall behind), and records when the last copy
   * of each request arrived: the delivery's body is `{ payload, metadata }` and the payload's id is the
   * request id (`sampleRequest`).
   */
  async readRecipients(exchanges: string[]): Promise<void> {
    this.#recipients = exchanges.length
    for (const exchange of exchanges) {
      const queue = `${exchange}.plain`
      await this.rabbit.exchangeDeclare({ exchange, type: 'fanout', durable: true })
      await this.rabbit.queueDeclare({ queue, durable: true, arguments: { 'x-max-length': 10_000 } })
      await this.rabbit.queueBind({ queue, exchange, routingKey: '' })
      const consumer = this.rabbit.createConsumer({ queue, queueOptions: { passive: true }, qos: { prefetchCount: 2000 }, noAck: true }, (msg) => {
        const id = JSON.parse((msg.body as Buffer).toString('utf8')).payload?.id
        if (typeof id !== 'string') return
        const copies = (this.#copies.get(id) ?? 0) + 1
        this.#copies.set(id, copies)
        if (copies === this.#recipients) this.receivedAt.set(id, performance.now())
      })
      await new Promise<void>((r) => consumer.once('ready', () => r()))
      this.#consumers.push(consumer)
    }
  }

  publish(requestId: string, tenant = 'bench'): Promise<void> {
    this.sentAt.set(requestId, performance.now())
    return this.publisher.send(
      {
        exchange: NOTIFICATION_REQUEST_EXCHANGE,
        headers: { 'regards.tenant': tenant, 'regards.request.id': requestId, 'regards.request.owner': 'bench' },
        priority: 1,
        durable: true,
        contentType: 'application/json',
        contentEncoding: 'UTF-8',
      },
      Buffer.from(JSON.stringify(sampleRequest(requestId))),
    )
  }

  /** Forgets the requests of the previous run. */
  clear(): void {
    this.sentAt.clear()
    this.doneAt.clear()
    this.grantedAt.clear()
    this.receivedAt.clear()
    this.#copies.clear()
  }

  waitAllDone(count: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${this.doneAt.size}/${count} requests completed in ${timeoutMs} ms`)), timeoutMs)
      const check = () => {
        if (this.doneAt.size >= count) {
          clearTimeout(timer)
          this.#onDone = undefined
          resolve()
        }
      }
      this.#onDone = check
      check()
    })
  }

  async close(): Promise<void> {
    for (const consumer of this.#consumers) await consumer.close()
    await this.publisher.close()
    await this.rabbit.close()
  }
}

/** A typical GeoJSON feature request (≈1 KB), as rs-fem sends them. */
export function sampleRequest(requestId: string) {
  return {
    payload: {
      type: 'Feature',
      id: requestId,
      urn: `URN:FEATURE:DATA:bench:${requestId}:V1`,
      geometry: { type: 'Point', coordinates: [1.44, 43.6] },
      properties: { is_valid: true, type: 'L2_RAD_GDR', count: 46, mission: 'SWOT', ingestion_date: '2026-11-22T10:00:00Z', tags: ['a', 'b'] },
      files: [{ attributes: { dataType: 'RAWDATA', filename: 'product.nc', checksum: 'abc', mimeType: 'application/x-netcdf' }, locations: [{ url: 'file:///data/product.nc' }] }],
    },
    metadata: { action: 'CREATED', sessionOwner: 'bench', session: 's1' },
  }
}

export const machine = () => ({ cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.type()} ${os.release()}` })

export function writeJson(file: string, value: unknown) {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`)
}

/** CPU time (user + system, in seconds) used by each part of a run between two samples, read from /proc. */
export interface CpuSample {
  /** RabbitMQ: every beam.smp process (one node serves every vhost: other users of the broker count too). */
  rabbitmq: number
  /** PostgreSQL: the backends connected to the run's database (Herald's pooled connections), none other. */
  postgresql: number
  /** PostgreSQL's background processes (WAL writer, checkpointer, background writer, …), shared by the cluster. */
  postgresqlBackground: number
  /** The processes under test: Herald's instances, or the broker-ceiling worker. */
  process: number
  /** This process: the REGARDS load client and the recipients' reader. */
  loadClient: number
}

// USER_HZ: /proc counts CPU time in ticks of 1/100 s on Linux.
const TICKS_PER_SECOND = 100

function cpuSecondsOf(pid: string): { comm: string; seconds: number } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // Fields 14 and 15 of proc(5) (utime, stime), counted from the state field (3).
    return { comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), seconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND }
  } catch {
    return undefined // exited meanwhile
  }
}

/** CPU seconds (user + system) used so far by one process; NaN once it is gone. */
export const cpuSeconds = (pid: number) => cpuSecondsOf(String(pid))?.seconds ?? NaN

type Part = keyof CpuSample
/** One reading: CPU seconds so far of each process, by the part it belongs to. */
type Reading = Map<number, { part: Part; seconds: number }>

/**
 * Per-process CPU of a run: the processes under test, this process, RabbitMQ, and of PostgreSQL only the
 * backends of `database` (found in pg_stat_activity at each reading) plus the cluster's background
 * processes apart. Other databases' backends — other test suites on the same server — are not counted. A
 * backend that connected during the window counts whole; one that exited during it is missed (Herald's
 * pool keeps its connections while it is busy).
 */
export class CpuMeter {
  readonly #pids: number[]
  readonly #database: string | undefined
  #admin: pg.Client | undefined

  constructor(pids: number[], databaseUrl?: string) {
    this.#pids = pids
    this.#database = databaseUrl ? decodeURIComponent(new URL(databaseUrl).pathname.slice(1)) : undefined
  }

  async read(): Promise<Reading> {
    const reading: Reading = new Map()
    const add = (pid: number, part: Part) => {
      const cpu = cpuSecondsOf(String(pid))
      if (cpu) reading.set(pid, { part, seconds: cpu.seconds })
    }
    for (const pid of this.#pids) add(pid, 'process')
    add(process.pid, 'loadClient')
    for (const pid of fs.readdirSync('/proc')) {
      if (/^\d+$/.test(pid) && cpuSecondsOf(pid)?.comm === 'beam.smp') add(Number(pid), 'rabbitmq')
    }
    if (this.#database) {
      if (!this.#admin) {
        this.#admin = new pg.Client({ connectionString: PG_ADMIN_URL })
        await this.#admin.connect()
      }
      const { rows } = await this.#admin.query<{ pid: number; datname: string | null }>(
        `select pid, datname from pg_stat_activity
         where datname = $1 or (datname is null and backend_type in ('walwriter', 'checkpointer', 'background writer', 'autovacuum launcher', 'logical replication launcher', 'archiver'))`,
        [this.#database],
      )
      for (const row of rows) add(row.pid, row.datname ? 'postgresql' : 'postgresqlBackground')
    }
    return reading
  }

  /** CPU per request of each part between two readings, in µs. */
  static perRequest(before: Reading, after: Reading, requests: number): CpuSample {
    const sum: CpuSample = { rabbitmq: 0, postgresql: 0, postgresqlBackground: 0, process: 0, loadClient: 0 }
    for (const [pid, { part, seconds }] of after) sum[part] += seconds - (before.get(pid)?.seconds ?? 0)
    for (const part of Object.keys(sum) as Part[]) sum[part] = (sum[part] / requests) * 1e6
    return sum
  }

  async close(): Promise<void> {
    await this.#admin?.end()
    this.#admin = undefined
  }
}
