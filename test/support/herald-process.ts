import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { Connection } from 'rabbitmq-client'
import type { Backend } from '../../src/db/client.ts'
import { createTestStorage, createVhost, type TestStorage } from './services.ts'
import { waitFor } from './wait-for.ts'

const repoRoot = path.resolve(import.meta.dirname, '../..')

/** A running Herald child process: `stop()` drains it (SIGTERM, SIGKILL after 10 s), `kill()` is kill -9. */
export interface HeraldProcess {
  child: ChildProcess
  pid: number
  exited: Promise<number | null>
  stop(): Promise<void>
  kill(): Promise<void>
  /** Peak resident set size (VmHWM) so far, in MiB; NaN once the process is gone. */
  peakRssMiB(): number
}

/**
 * Spawns one Herald process (`herald start --roles …`) on a given vhost and storage: several may share
 * them, as in production. Its stdout is dropped unless BENCH_VERBOSE is set; stderr is inherited.
 */
export function spawnHerald(opts: { amqpUrl: string; storage: TestStorage; env?: Record<string, string>; roles?: string }): HeraldProcess {
  return spawnNode([path.join(repoRoot, 'bin/herald.js'), 'start', '--roles', opts.roles ?? 'notifier'], {
    HERALD_AMQP_URL: opts.amqpUrl,
    ...(opts.storage.databaseUrl ? { HERALD_DATABASE_URL: opts.storage.databaseUrl } : {}),
    HERALD_DATA_DIR: opts.storage.dataDir,
    HERALD_HTTP_PORT: '0',
    HERALD_LOG_LEVEL: 'warn',
    ...opts.env,
  })
}

/** Spawns a Node.js process (Herald, or the bench's broker-ceiling worker), killed when this process exits. */
export function spawnNode(args: string[], env: Record<string, string> = {}): HeraldProcess {
  // BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof': profile the spawned processes.
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', process.env.BENCH_VERBOSE ? 'inherit' : 'ignore', 'inherit'],
  })
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode)
    else child.once('exit', (code) => resolve(code))
  })
  liveChildren.add(child)
  exited.then(() => liveChildren.delete(child))
  const gone = () => child.exitCode !== null || child.signalCode !== null
  return {
    child,
    pid: child.pid!,
    exited,
    async stop() {
      if (gone()) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    },
    async kill() {
      if (gone()) return
      child.kill('SIGKILL')
      await exited
    },
    peakRssMiB: () => peakRssMiB(child.pid!),
  }
}

/** Every child spawned here and still running: killed (SIGKILL) when this process exits, whatever happened. */
const liveChildren = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL')
})

/** VmHWM of a process (peak RSS), in MiB, from /proc; NaN when unavailable. */
export function peakRssMiB(pid: number): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1]
    return kb ? Number(kb) / 1024 : NaN
  } catch {
    return NaN
  }
}

/** Waits until the queue has at least `consumers` consumers (Herald processes finished starting). */
export async function waitConsumers(url: string, queue: string, consumers = 1, timeoutMs = 60_000): Promise<void> {
  const rabbit = new Connection({ url, noDelay: true })
  rabbit.on('error', () => {})
  try {
    // Not declared yet counts as no consumer.
    const count = () => rabbit.queueDeclare({ queue, passive: true }).then((ok) => ok.consumerCount, () => 0)
    await waitFor(async () => (await count()) >= consumers, `${consumers} consumers on ${queue} (Herald starting)`, { timeoutMs, pollMs: 200 })
  } finally {
    await rabbit.close()
  }
}

/** A Herald process of its own (as in production), on a fresh vhost and storage. */
export async function startHeraldProcess(backend: Backend, prepare: (storage: TestStorage) => Promise<void>, env: Record<string, string> = {}) {
  const vhost = await createVhost()
  const storage: TestStorage = await createTestStorage(backend)
  // Before the process starts: PGlite serves one process at a time.
  await prepare(storage)
  const herald = spawnHerald({ amqpUrl: vhost.url, storage, env })
  return {
    vhost,
    storage,
    herald,
    async stop() {
      await herald.stop()
      await storage.drop()
      await vhost.drop()
    },
  }
}
