/**
 * Start-up time: `npx herald start` (all roles, PostgreSQL) until `/health/ready` answers 200, and
 * `herald --help`, each the median of 5 runs. The same starts from the TypeScript sources (through tsx, as
 * the tests run) are measured in the same run as the reference, so the ratio holds on a busy machine.
 *
 *   node --import tsx bench/startup.ts      # this section alone; `npm run bench` runs it too
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createTestStorage, createVhost, freePort } from '../test/support/services.ts'
import { median, progress, type Figure } from './harness.ts'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const RUNS = 5
// A start that takes longer is a failure, not a figure (on a machine this busy, the figures mean nothing anyway).
const START_LIMIT_MS = 90_000

interface Run {
  command: string
  args: string[]
  env: Record<string, string>
}

/** Runs a command to its end; resolves with its wall time in ms. */
function timeToExit({ command, args, env }: Run): Promise<number> {
  const started = performance.now()
  const child = spawn(command, args, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', (chunk) => (stderr += chunk))
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.trim()}`)))),
  )
}

// USER_HZ: /proc counts CPU time in ticks of 1/100 s on Linux.
const TICKS_PER_SECOND = 100

/**
 * CPU time (user + system, ms) used so far by every process of a process group (npx, its shell, Herald), from
 * /proc: unlike wall time, it hardly moves with what else the shared machine runs.
 */
function groupCpuMs(pgid: number): number {
  let ticks = 0
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
      // proc(5): pgrp is field 5, utime and stime fields 14 and 15, counted from the state field (3).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(fields[2]) === pgid) ticks += Number(fields[11]) + Number(fields[12])
    } catch {
      // exited meanwhile
    }
  }
  return (ticks / TICKS_PER_SECOND) * 1000
}

/**
 * Starts Herald, polls /health/ready until 200, then stops it (SIGTERM to its process group). Resolves with
 * the ms to ready and the CPU ms its processes used until then.
 */
async function timeToReady({ command, args, env }: Run): Promise<{ wallMs: number; cpuMs: number }> {
  const port = await freePort()
  const started = performance.now()
  // detached: npx runs Herald as a grandchild; the whole group gets the signal.
  const child = spawn(command, args, { cwd: repoRoot, env: { ...process.env, ...env, HERALD_HTTP_PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'], detached: true })
  let stderr = ''
  child.stderr!.on('data', (chunk) => (stderr += chunk))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  let exitCode: number | null | undefined
  void exited.then((code) => (exitCode = code))
  try {
    while (performance.now() - started < START_LIMIT_MS) {
      if (exitCode !== undefined) throw new Error(`herald exited ${exitCode} before ready: ${stderr.trim()}`)
      const ready = await fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.status === 200, () => false)
      if (ready) return { wallMs: performance.now() - started, cpuMs: groupCpuMs(child.pid!) }
      await new Promise((r) => setTimeout(r, 20))
    }
    throw new Error(`herald not ready after ${START_LIMIT_MS} ms: ${stderr.trim()}`)
  } finally {
    if (exitCode === undefined) {
      process.kill(-child.pid!, 'SIGTERM')
      const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }
  }
}

async function medianOf(times: number, measure: () => Promise<number>): Promise<{ median: number; all: number[] }> {
  const all: number[] = []
  for (let i = 0; i < times; i++) all.push(await measure())
  return { median: median(all), all }
}

const rounded = (values: number[]) => values.map((v) => Math.round(v)).join(', ')

export async function benchStartup(): Promise<Figure[]> {
  const vhost = await createVhost()
  const storage = await createTestStorage('postgres')
  const env = { HERALD_AMQP_URL: vhost.url, HERALD_DATABASE_URL: storage.databaseUrl!, HERALD_DATA_DIR: storage.dataDir, HERALD_LOG_LEVEL: 'warn' }
  const compiled: Run = { command: 'npx', args: ['herald', 'start'], env }
  const fromSource: Run = { ...compiled, env: { ...env, HERALD_FROM_SOURCE: '1' } }
  const bin = path.join(repoRoot, 'bin/herald.js')
  // The same without npx (as `herald` on the PATH, or a service unit runs it): npx alone loads npm's tree.
  const direct: Run = { command: process.execPath, args: [bin, 'start'], env }
  try {
    // The first start on an empty database also runs the migrations; the medians are of restarts.
    const first = await timeToReady(compiled)
    progress(`startup: first start (migrations) ${Math.round(first.wallMs)} ms`)
    const starts: { wallMs: number; cpuMs: number }[] = []
    const sourceStarts: typeof starts = []
    for (let i = 0; i < RUNS; i++) starts.push(await timeToReady(compiled))
    for (let i = 0; i < RUNS; i++) sourceStarts.push(await timeToReady(fromSource))
    const directStarts: typeof starts = []
    for (let i = 0; i < RUNS; i++) directStarts.push(await timeToReady(direct))
    const directReady = { median: median(directStarts.map((s) => s.wallMs)), all: directStarts.map((s) => s.wallMs) }
    const directCpu = median(directStarts.map((s) => s.cpuMs))
    const ready = { median: median(starts.map((s) => s.wallMs)), all: starts.map((s) => s.wallMs) }
    const sourceReady = { median: median(sourceStarts.map((s) => s.wallMs)), all: sourceStarts.map((s) => s.wallMs) }
    const cpu = { median: median(starts.map((s) => s.cpuMs)), all: starts.map((s) => s.cpuMs) }
    const sourceCpu = { median: median(sourceStarts.map((s) => s.cpuMs)), all: sourceStarts.map((s) => s.cpuMs) }
    progress(`startup: ready ${rounded(ready.all)} ms; from source ${rounded(sourceReady.all)} ms`)
    progress(`startup: CPU until ready ${rounded(cpu.all)} ms; from source ${rounded(sourceCpu.all)} ms`)
    progress(`startup: without npx, ready ${rounded(directReady.all)} ms, CPU ${rounded(directStarts.map((s) => s.cpuMs))} ms`)
    const help = await medianOf(RUNS, () => timeToExit({ command: process.execPath, args: [bin, '--help'], env: {} }))
    const sourceHelp = await medianOf(RUNS, () => timeToExit({ command: process.execPath, args: [bin, '--help'], env: { HERALD_FROM_SOURCE: '1' } }))
    const npxHelp = await medianOf(RUNS, () => timeToExit({ command: 'npx', args: ['herald', '--help'], env: {} }))
    const bareNode = await medianOf(RUNS, () => timeToExit({ command: process.execPath, args: ['-e', ''], env: {} }))
    progress(`startup: help ${rounded(help.all)} ms; from source ${rounded(sourceHelp.all)}; through npx ${rounded(npxHelp.all)}; node -e '' ${rounded(bareNode.all)}`)
    return [
      { name: 'startup.first_ready_ms', value: first.wallMs, unit: 'ms' },
      { name: 'startup.ready_ms.median', value: ready.median, unit: 'ms', reference: sourceReady.median, referenceName: 'from source (tsx)', target: '≤ 1500' },
      { name: 'startup.ready_cpu_ms.median', value: cpu.median, unit: 'ms', reference: sourceCpu.median, referenceName: 'from source (tsx)' },
      { name: 'startup.direct_ready_ms.median', value: directReady.median, unit: 'ms', reference: ready.median, referenceName: 'through npx' },
      { name: 'startup.direct_ready_cpu_ms.median', value: directCpu, unit: 'ms', reference: cpu.median, referenceName: 'through npx' },
      { name: 'startup.help_ms.median', value: help.median, unit: 'ms', reference: sourceHelp.median, referenceName: 'from source (tsx)', target: '≤ 300' },
      { name: 'startup.npx_help_ms.median', value: npxHelp.median, unit: 'ms', reference: help.median, referenceName: 'herald --help without npx' },
      { name: 'startup.node_ms.median', value: bareNode.median, unit: 'ms', referenceName: "node -e '' (the floor)" },
    ]
  } finally {
    await storage.drop()
    await vhost.drop()
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const f of await benchStartup()) console.log(`${f.name.padEnd(32)} ${Math.round(f.value).toString().padStart(6)} ${f.unit}${f.reference ? `  (${f.referenceName}: ${Math.round(f.reference)}, ${(f.value / f.reference).toFixed(2)}×)` : ''}`)
  process.exit(0)
}
