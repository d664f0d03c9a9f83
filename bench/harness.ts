import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Connection } from 'rabbitmq-client'
import { NOTIFICATION_REQUEST_EXCHANGE, NOTIFIER_EVENT_EXCHANGE } from '../src/amqp/topology.ts'
import { createTestStorage, createVhost, type TestStorage } from '../test/support/services.ts'
import type { Backend } from '../src/db/client.ts'

export interface Figure {
  name: string
  value: number
  unit: string
  /** The same work's reference measured in the same run, when there is one. */
  reference?: number
  target?: string
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** Progress goes to stderr, so the figures on stdout stay machine-readable. */
export const progress = (line: string) => process.stderr.write(`[bench] ${line}\n`)

export const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
export const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50)

/** A Herald process of its own (as in production), on a fresh vhost and storage. */
export async function startHeraldProcess(backend: Backend, prepare: (storage: TestStorage) => Promise<void>, env: Record<string, string> = {}) {
  const vhost = await createVhost()
  const storage: TestStorage = await createTestStorage(backend)
  // Before the process starts: PGlite serves one process at a time.
  await prepare(storage)
  const child: ChildProcess = spawn(process.execPath, [path.join(repoRoot, 'bin/herald.js'), 'start', '--roles', 'notifier'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      HERALD_AMQP_URL: vhost.url,
      ...(storage.databaseUrl ? { HERALD_DATABASE_URL: storage.databaseUrl } : {}),
      HERALD_DATA_DIR: storage.dataDir,
      HERALD_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', process.env.BENCH_VERBOSE ? 'inherit' : 'ignore', 'inherit'],
  })
  return {
    vhost,
    storage,
    child,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
      await storage.drop()
      await vhost.drop()
    },
  }
}

/** A REGARDS client for load: confirmed publishing of requests and a counter of terminal events. */
export class LoadClient {
  readonly rabbit: Connection
  readonly publisher
  readonly sentAt = new Map<string, number>()
  readonly doneAt = new Map<string, number>()
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
        if (body.state === 'SUCCESS' || body.state === 'ERROR' || body.state === 'DENIED') {
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
