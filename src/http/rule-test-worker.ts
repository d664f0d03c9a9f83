import { parentPort } from 'node:worker_threads'
import { compileRule, type RuleConfig } from '../rules/compile-rule.ts'

/** Runs in a worker thread (see rule-sandbox.ts): evaluates one rule on one sample per message. */
parentPort!.on('message', (job: { id: number; rule: RuleConfig; metadata: unknown; payload: unknown }) => {
  try {
    const rule = compileRule(job.rule)
    parentPort!.postMessage({ id: job.id, result: rule.match(job.metadata, job.payload), warnings: [...rule.warnings] })
  } catch (err) {
    parentPort!.postMessage({ id: job.id, error: (err as Error)?.message ?? String(err) })
  }
})
parentPort!.postMessage({ ready: true })
