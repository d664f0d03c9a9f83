/**
 * Evaluations that must not run on the event loop (a regular expression V8's linear-time engine cannot
 * run, or a long value: linear-regex.ts) run here, in a small pool of worker threads, each evaluation
 * with a hard deadline. A JavaScript regular expression cannot be interrupted, so an evaluation that
 * runs out of time costs its worker thread: it is terminated and replaced, that sample is answered
 * `timedOut`, and the other samples of the call are evaluated again on a fresh worker.
 *
 * One call carries every sample of a batch for one rule: one message there and one back, not one per
 * request. The worker writes which sample it is on, and since when, to a SharedArrayBuffer; the main
 * thread reads it from a timer (Atomics.load, never Atomics.wait), so the deadline costs no messages.
 *
 * Used the same way by the notifier's matching, the rule test API and `herald rules test`, through
 * `matchSamples`; one pool per process (`RULE_WORKERS`), whose threads start on first use.
 */
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { InLineRule, MatchResult, RuleConfig } from './compile-rule.ts'
import { RULE_DEADLINE_MS } from './linear-regex.ts'
import type { WorkerAnswer, WorkerJob } from './rule-worker.ts'

export interface Sample {
  metadata: unknown
  payload: unknown
}

/** An evaluation stopped at its deadline: a matching error naming why it was sent off the event loop. */
export type TimedOut = { error: string; timedOut: true }
export type Evaluation = MatchResult | TimedOut

// Two threads: one runaway evaluation holds one of them for RULE_DEADLINE_MS while the other goes on.
const POOL_SIZE = 2
// In-line evaluation gives the event loop a turn at least this often (health checks answer within 100 ms).
const SLICE_MS = 20
// The matching of a batch waits for its call (in its transaction; the intake queue waits for the batch):
// after this many samples of one call ran out of time, the rest are not evaluated, so a batch of 500
// crafted requests costs ~1.5 s, not 500 deadlines. Those requests wait in RULE_ERROR like the others.
export const MAX_TIMEOUTS_PER_CALL = 3

/** A share of one call's samples, sent to one worker in one message. */
interface Part {
  call: Call
  indices: number[]
}

interface Call {
  config: RuleConfig
  key: string
  samples: Sample[]
  results: WorkerResult[]
  left: number
  timeouts: number
  resolve(results: WorkerResult[]): void
}

/** `'skipped'`: not evaluated, MAX_TIMEOUTS_PER_CALL other samples of the call ran out of time. */
export type WorkerResult = MatchResult | 'timeout' | 'skipped'

interface Slot {
  worker: Worker
  ready: Promise<void>
  /** [seq of the job being evaluated, index of its sample] and, from byte 8, the sample's start (epoch ms). */
  progress: Int32Array
  startedAt: BigInt64Array
  /** `postedAt` is undefined until the worker is ready and has been sent the job. */
  running: { part: Part; seq: number; postedAt: number | undefined; timer: NodeJS.Timeout } | undefined
  /** The worker has said it is ready. */
  started: boolean
}

export class RuleWorkers {
  readonly deadlineMs: number
  readonly #size: number
  readonly #slots = new Set<Slot>()
  readonly #queue: Part[] = []
  #seq = 0

  constructor(opts: { deadlineMs?: number; size?: number } = {}) {
    this.deadlineMs = opts.deadlineMs ?? RULE_DEADLINE_MS
    this.#size = opts.size ?? POOL_SIZE
  }

  /** Evaluates `config` on each sample in a worker; `'timeout'` for a sample that ran out of time. */
  evaluate(config: RuleConfig, samples: Sample[]): Promise<WorkerResult[]> {
    if (samples.length === 0) return Promise.resolve([])
    return new Promise((resolve) => {
      const call: Call = { config, key: JSON.stringify(config), samples, results: new Array(samples.length), left: samples.length, timeouts: 0, resolve }
      this.#queue.push({ call, indices: samples.map((_, i) => i) })
      this.#pump()
    })
  }

  /** Stops the threads; calls in progress are answered with an error. */
  async close(): Promise<void> {
    const parts = this.#queue.splice(0)
    for (const slot of this.#slots) if (slot.running) parts.push(this.#release(slot).part)
    for (const part of parts) for (const i of part.indices) this.#settle(part.call, i, { error: 'Herald is stopping' })
    await Promise.all([...this.#slots].map((slot) => this.#discard(slot)))
  }

  #pump(): void {
    // Once in use, the pool keeps all its threads started: a worker terminated at a deadline is replaced
    // at once, so the next call does not wait for a start (~0.3 s, several seconds on a loaded machine).
    while (this.#slots.size < this.#size) this.#start()
    while (this.#queue.length > 0) {
      // A ready thread first, else one still starting.
      const idle = [...this.#slots].filter((s) => !s.running)
      const slot = idle.find((s) => s.started) ?? idle[0]
      if (!slot) return
      this.#run(slot, this.#queue.shift()!)
    }
  }

  #run(slot: Slot, part: Part): void {
    const seq = ++this.#seq
    const timer = setTimeout(() => this.#watch(slot), this.deadlineMs)
    slot.running = { part, seq, postedAt: undefined, timer }
    slot.ready.then(
      () => {
        if (slot.running?.seq !== seq) return
        // The deadline counts from when the worker can take the job: its start-up is not the rule's fault.
        slot.running.postedAt = Date.now()
        const job: WorkerJob = { seq, key: part.call.key, config: part.call.config, samples: serialize(part.indices.map((i) => part.call.samples[i])) }
        slot.worker.postMessage(job)
      },
      (err: Error) => {
        if (slot.running?.seq !== seq) return
        this.#release(slot)
        void this.#discard(slot)
        for (const i of part.indices) this.#settle(part.call, i, { error: `the rule worker could not start: ${err.message}` })
        this.#pump()
      },
    )
  }

  /** The deadline timer: has the sample in progress run for deadlineMs? */
  #watch(slot: Slot): void {
    const running = slot.running
    if (!running) return
    // Index first, then start time (the worker writes them in the other order).
    const onThisJob = Atomics.load(slot.progress, 0) === running.seq
    const index = onThisJob ? Atomics.load(slot.progress, 1) : 0
    const since = onThisJob ? Number(Atomics.load(slot.startedAt, 0)) : running.postedAt
    const elapsed = since === undefined ? 0 : Date.now() - since
    if (elapsed < this.deadlineMs) {
      running.timer = setTimeout(() => this.#watch(slot), this.deadlineMs - elapsed + 1)
      return
    }
    const { part } = this.#release(slot)
    void this.#discard(slot)
    this.#settle(part.call, part.indices[index], 'timeout')
    if (++part.call.timeouts < MAX_TIMEOUTS_PER_CALL) return this.#retry(part, index)
    for (const [k, i] of part.indices.entries()) if (k !== index) this.#settle(part.call, i, 'skipped')
    this.#pump()
  }

  /** The worker stopped or failed while evaluating: that sample gets the error, the others are retried. */
  #fail(slot: Slot, error: string): void {
    const running = slot.running
    void this.#discard(slot)
    if (!running) return
    const { part } = this.#release(slot)
    const index = Atomics.load(slot.progress, 0) === running.seq ? Atomics.load(slot.progress, 1) : 0
    this.#settle(part.call, part.indices[index], { error })
    this.#retry(part, index)
  }

  /** The samples of `part` other than `index` go back to the front of the queue. */
  #retry(part: Part, index: number): void {
    const rest = part.indices.filter((_, k) => k !== index)
    if (rest.length > 0) this.#queue.unshift({ call: part.call, indices: rest })
    this.#pump()
  }

  #release(slot: Slot): NonNullable<Slot['running']> {
    const running = slot.running!
    clearTimeout(running.timer)
    slot.running = undefined
    return running
  }

  #settle(call: Call, index: number, result: WorkerResult): void {
    call.results[index] = result
    if (--call.left === 0) call.resolve(call.results)
  }

  #start(): Slot {
    const shared = new SharedArrayBuffer(16)
    const worker = startWorker(shared)
    const slot: Slot = {
      worker,
      ready: new Promise<void>((resolve, reject) => {
        worker.once('message', () => resolve())
        worker.once('error', reject)
        worker.once('exit', (code) => reject(new Error(`it exited with code ${code}`)))
      }),
      progress: new Int32Array(shared, 0, 2),
      startedAt: new BigInt64Array(shared, 8, 1),
      running: undefined,
      started: false,
    }
    slot.ready.catch(() => {}) // answered through #run
    // An idle pool does not keep the process alive (`herald rules test` ends with its input); a call in
    // progress does, through its deadline timer. After the listeners: adding one refs the worker again.
    worker.unref()
    slot.progress[0] = -1
    this.#slots.add(slot)
    slot.ready.then(() => {
      slot.started = true
      worker.on('message', (answer: WorkerAnswer) => {
        const running = slot.running
        if (running?.seq !== answer.seq) return
        this.#release(slot)
        if ('error' in answer) for (const i of running.part.indices) this.#settle(running.part.call, i, { error: answer.error })
        else running.part.indices.forEach((i, k) => this.#settle(running.part.call, i, answer.results[k]))
        this.#pump()
      })
      worker.on('error', (err) => this.#fail(slot, `the rule worker failed: ${err.message}`))
      worker.on('exit', (code) => this.#fail(slot, `the rule worker stopped (exit code ${code}; out of memory?)`))
      worker.unref()
    }, () => {})
    return slot
  }

  async #discard(slot: Slot): Promise<void> {
    if (!this.#slots.delete(slot)) return
    slot.worker.removeAllListeners('exit')
    slot.worker.removeAllListeners('error')
    await slot.worker.terminate()
  }

}

/** One pool per process, shared by the notifier, the rule test API and the CLI. */
export const RULE_WORKERS = new RuleWorkers()

/**
 * Evaluates an in-line rule on each sample: in line when it can (giving the event loop a turn every
 * SLICE_MS), the rest in one call to the workers. Never throws.
 */
export async function matchSamples(rule: InLineRule, samples: Sample[], workers: RuleWorkers = RULE_WORKERS): Promise<Evaluation[]> {
  const results: Evaluation[] = new Array(samples.length)
  const offLoop: { index: number; reason: string }[] = []
  let slice = performance.now()
  for (let i = 0; i < samples.length; i++) {
    const result = rule.match(samples[i].metadata, samples[i].payload)
    if ('offLoop' in result) offLoop.push({ index: i, reason: result.offLoop })
    else results[i] = result
    if (performance.now() - slice > SLICE_MS) {
      await new Promise((resolve) => setImmediate(resolve))
      slice = performance.now()
    }
  }
  if (offLoop.length === 0) return results
  const answers = await workers.evaluate(
    rule.config,
    offLoop.map(({ index }) => samples[index]),
  )
  offLoop.forEach(({ index, reason }, k) => {
    const answer = answers[k]
    results[index] =
      answer === 'timeout'
        ? { error: `the evaluation did not finish within ${workers.deadlineMs} ms and was stopped (it runs in a worker thread because ${reason})`, timedOut: true }
        : answer === 'skipped'
          ? { error: `not evaluated: the rule ran out of time (${workers.deadlineMs} ms) on ${MAX_TIMEOUTS_PER_CALL} other requests of the same batch`, timedOut: true }
          : answer
  })
  return results
}

/**
 * Samples as JSON text when they are JSON (always, from AMQP and the API): the main thread's share of a
 * structured clone of 500 GeoJSON features is 10-20 ms, JSON.stringify takes 2-5 ms. Else (a bigint) as
 * they are.
 */
function serialize(samples: Sample[]): Sample[] | string {
  try {
    return JSON.stringify(samples)
  } catch {
    return samples
  }
}

/** A worker running rule-worker.ts, or rule-worker.js once compiled (dist). */
function startWorker(progress: SharedArrayBuffer): Worker {
  const resourceLimits = { maxOldGenerationSizeMb: 256 }
  if (import.meta.url.endsWith('.js')) return new Worker(new URL('./rule-worker.js', import.meta.url), { workerData: { progress }, resourceLimits })
  // From sources, TypeScript is loaded through tsx (~0.3 s per worker): a worker does not inherit the
  // main thread's loader.
  const target = new URL('./rule-worker.ts', import.meta.url).href
  const code = `(async () => { const { register } = await import(${JSON.stringify(tsxRegisterUrl())}); register(); await import(${JSON.stringify(target)}) })()`
  return new Worker(code, { eval: true, workerData: { progress }, resourceLimits })
}

/** tsx's ESM register API, resolved from its package.json. */
function tsxRegisterUrl(): string {
  const require = createRequire(import.meta.url)
  const manifest = require.resolve('tsx/package.json')
  const exports = JSON.parse(fs.readFileSync(manifest, 'utf8')).exports['./esm/api']
  return pathToFileURL(path.join(path.dirname(manifest), exports.import.default ?? exports.import)).href
}
