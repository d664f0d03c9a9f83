/**
 * Runs in a worker thread (rule-workers.ts): evaluates one rule on a list of samples per message, to
 * completion. Before each sample it writes the sample's index and start time to the shared progress
 * array, so the main thread can tell which sample ran out of time without any message from here.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { compileRule, type CompiledRule, type MatchResult, type RuleConfig } from './compile-rule.ts'

export interface WorkerJob {
  seq: number
  key: string
  config: RuleConfig
  /** JSON text of the samples, or the samples themselves when they are not JSON (a bigint). */
  samples: { metadata: unknown; payload: unknown }[] | string
}

export type WorkerAnswer = { seq: number; results: MatchResult[] } | { seq: number; error: string }

// A tenant has a few rules that need the worker; bounded so that a stream of distinct rules (the rule
// test API) cannot grow memory.
const CACHE_LIMIT = 100

const progress = new Int32Array(workerData.progress as SharedArrayBuffer, 0, 2)
const startedAt = new BigInt64Array(workerData.progress as SharedArrayBuffer, 8, 1)
const cache = new Map<string, CompiledRule>()

function compiled(job: WorkerJob): CompiledRule {
  let rule = cache.get(job.key)
  if (!rule) {
    rule = compileRule(job.config)
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!)
    cache.set(job.key, rule)
  }
  return rule
}

parentPort!.on('message', (job: WorkerJob) => {
  let answer: WorkerAnswer
  try {
    const rule = compiled(job)
    const samples = typeof job.samples === 'string' ? (JSON.parse(job.samples) as Exclude<WorkerJob['samples'], string>) : job.samples
    const results: MatchResult[] = []
    for (let i = 0; i < samples.length; i++) {
      // Start time first, index second: the main thread reads the index first, so it never pairs a new
      // index with an old start time.
      Atomics.store(startedAt, 0, BigInt(Date.now()))
      Atomics.store(progress, 0, job.seq)
      Atomics.store(progress, 1, i)
      results.push(rule.match(samples[i].metadata, samples[i].payload))
    }
    answer = { seq: job.seq, results }
  } catch (err) {
    answer = { seq: job.seq, error: (err as Error)?.message ?? String(err) }
  }
  parentPort!.postMessage(answer)
})
parentPort!.postMessage({ ready: true })
