import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { Logger } from '../log.ts'
import type { MatchResult, RuleConfig } from '../rules/compile-rule.ts'

/**
 * Evaluates rules sent to POST /rules/test in a worker thread with a time budget. The rule compiler
 * rejects nested repetition such as (a+)+, but a JavaScript regular expression cannot be interrupted, and
 * some accepted patterns still backtrack polynomially (`.*.*.*.*.*.*b` on 200 characters runs for
 * minutes): in the worker, a runaway evaluation costs one terminated thread, not the API. The worker is
 * kept between calls (starting one costs ~0.6 s: TypeScript is loaded through tsx) and replaced after a
 * timeout; calls are evaluated one at a time.
 */
export const RULE_TEST_BUDGET_MS = 1000

export type SandboxOutcome = { result: MatchResult; warnings: string[] } | { error: string } | { timeout: true }

interface Job {
  id: number
  message: { id: number; rule: RuleConfig; metadata: unknown; payload: unknown }
  resolve(outcome: SandboxOutcome): void
}

/** tsx's ESM register API, resolved from its package.json (a worker does not inherit the main thread's loader). */
function tsxRegisterUrl(): string {
  const require = createRequire(import.meta.url)
  const manifest = require.resolve('tsx/package.json')
  const exports = JSON.parse(fs.readFileSync(manifest, 'utf8')).exports['./esm/api']
  return pathToFileURL(path.join(path.dirname(manifest), exports.import.default ?? exports.import)).href
}

export class RuleSandbox {
  readonly #log: Logger
  readonly #budgetMs: number
  #worker: Worker | undefined
  #ready: Promise<void> | undefined
  #queue: Job[] = []
  #current: { job: Job; timer: NodeJS.Timeout } | undefined
  #nextId = 1
  #busy = false
  #closed = false

  constructor(log: Logger, budgetMs = RULE_TEST_BUDGET_MS) {
    this.#log = log
    this.#budgetMs = budgetMs
  }

  evaluate(rule: RuleConfig, metadata: unknown, payload: unknown): Promise<SandboxOutcome> {
    return new Promise((resolve) => {
      const id = this.#nextId++
      this.#queue.push({ id, message: { id, rule, metadata, payload }, resolve })
      void this.#pump()
    })
  }

  #start(): Promise<void> {
    // Compiled (dist/), the worker is JavaScript; from the sources (tests, development) it is loaded through tsx.
    const compiled = import.meta.url.endsWith('.js')
    const target = new URL(compiled ? './rule-test-worker.js' : './rule-test-worker.ts', import.meta.url).href
    const register = compiled ? '' : `const { register } = await import(${JSON.stringify(tsxRegisterUrl())}); register();`
    const code = `(async () => { ${register} await import(${JSON.stringify(target)}) })()`
    const worker = new Worker(code, { eval: true, resourceLimits: { maxOldGenerationSizeMb: 256 } })
    worker.unref()
    this.#worker = worker
    this.#ready = new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve())
      worker.once('error', reject)
      worker.once('exit', (code) => reject(new Error(`rule worker exited (${code})`)))
    })
    worker.on('message', (m: { id?: number; result?: MatchResult; warnings?: string[]; error?: string }) => {
      if (m.id === undefined || this.#current?.job.id !== m.id) return
      const { job, timer } = this.#current
      clearTimeout(timer)
      this.#current = undefined
      this.#busy = false
      job.resolve(m.error !== undefined ? { error: m.error } : { result: m.result!, warnings: m.warnings ?? [] })
      void this.#pump()
    })
    worker.on('error', (err) => this.#log.warn({ err: String(err) }, 'rule test worker failed'))
    worker.on('exit', () => {
      if (this.#worker === worker) this.#worker = undefined
    })
    return this.#ready
  }

  async #pump(): Promise<void> {
    if (this.#busy || this.#queue.length === 0 || this.#closed) return
    this.#busy = true
    const job = this.#queue.shift()!
    try {
      if (!this.#worker) await this.#start()
      else await this.#ready
    } catch (err) {
      this.#worker = undefined
      this.#busy = false
      job.resolve({ error: `the rule test worker could not start: ${(err as Error).message}` })
      void this.#pump()
      return
    }
    // The budget counts from when the worker has the job (its start-up is not the rule's fault).
    const timer = setTimeout(() => {
      // The evaluation ran away: a thread cannot be interrupted otherwise.
      this.#current = undefined
      const worker = this.#worker
      this.#worker = undefined
      void worker?.terminate()
      this.#busy = false
      job.resolve({ timeout: true })
      void this.#pump()
    }, this.#budgetMs)
    this.#current = { job, timer }
    this.#worker!.postMessage(job.message)
  }

  async close(): Promise<void> {
    this.#closed = true
    for (const job of this.#queue.splice(0)) job.resolve({ error: 'server closing' })
    if (this.#current) {
      clearTimeout(this.#current.timer)
      this.#current.job.resolve({ error: 'server closing' })
      this.#current = undefined
    }
    await this.#worker?.terminate()
  }
}
