import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Connection } from 'rabbitmq-client'
import { NOTIFICATION_REQUEST_EXCHANGE, NOTIFIER_EVENT_EXCHANGE } from '../src/amqp/topology.ts'

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
  #onDone: (() => void) | undefined
  #consumer: { close(): Promise<void> } | undefined

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
    this.#consumer = consumer
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
    await this.#consumer?.close()
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

/** CPU time (user + system, in seconds) used so far by each part of a run, read from /proc. */
export interface CpuSample {
  /** RabbitMQ: every beam.smp process. */
  rabbitmq: number
  /** PostgreSQL: every postgres process (Herald's pool connections stay open during a run). */
  postgresql: number
  /** The process under test: Herald, or the broker-ceiling worker. */
  process: number
  /** This process: the REGARDS load client. */
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

export function cpuSample(processPid: number): CpuSample {
  const sample: CpuSample = { rabbitmq: 0, postgresql: 0, process: cpuSecondsOf(String(processPid))?.seconds ?? NaN, loadClient: cpuSecondsOf(String(process.pid))?.seconds ?? NaN }
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    const cpu = cpuSecondsOf(pid)
    if (cpu?.comm === 'beam.smp') sample.rabbitmq += cpu.seconds
    else if (cpu?.comm.startsWith('postgres')) sample.postgresql += cpu.seconds
  }
  return sample
}

/** CPU per request of each part between two samples, in µs. */
export function cpuPerRequest(before: CpuSample, after: CpuSample, requests: number): CpuSample {
  const per = (k: keyof CpuSample) => ((after[k] - before[k]) / requests) * 1e6
  return { rabbitmq: per('rabbitmq'), postgresql: per('postgresql'), process: per('process'), loadClient: per('loadClient') }
}
