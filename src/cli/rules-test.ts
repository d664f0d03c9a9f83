/**
 * `herald rules test`: evaluates rules on sample messages without running the notifier.
 *
 * Input, one JSON object per line: `{"rule": {"pluginId", "parameters": [...]}, "metadata", "payload"}`
 * (an optional `"id"` is echoed back). Output, one JSON line per non-blank input line, in order:
 * `{"match": true}`, `{"match": false, "explain": "…"}` or `{"error": "…"}`. A bad line (invalid JSON,
 * unknown pluginId, rule that does not compile) gives an error line and the command goes on.
 */
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { compileRuleInLine, RuleConfigError, type InLineRule, type RuleConfig } from '../rules/compile-rule.ts'
import { matchSamples } from '../rules/rule-workers.ts'

// The same rule usually repeats over many lines: compile it once (the notifier's rule, too, is compiled
// once per configuration change). Bounded so that a stream of distinct rules cannot grow memory.
const CACHE_LIMIT = 1000

type Output = { match: true } | { match: false; explain: string } | { error: string }

/**
 * @example
 *   await runRulesTest(process.stdin, process.stdout)
 *   // stdin : {"rule":{"pluginId":"LuceneRuleMatcher","parameters":[{"name":"metadata_rule","value":"action:CREATED"}]},"metadata":{"action":"CREATED"},"payload":{}}
 *   // stdout: {"match":true}
 */
export async function runRulesTest(input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<void> {
  const cache = new Map<string, InLineRule | RuleConfigError>()
  const lines = createInterface({ input, crlfDelay: Infinity })
  // A reader that goes away (`herald rules test < cases | head`) ends the command quietly (EPIPE);
  // any other write error is the caller's to report.
  let failure: NodeJS.ErrnoException | undefined
  const onError = (e: Error) => {
    failure ??= e
    lines.close()
  }
  output.on('error', onError)
  try {
    let lineNumber = 0
    for await (const line of lines) {
      lineNumber++
      if (failure) break
      if (line.trim() === '') continue
      const { id, result } = await evaluateLine(line, lineNumber, cache)
      const text = JSON.stringify(id === undefined ? result : { id, ...result }) + '\n'
      if (!output.write(text)) await once(output, 'drain').catch(onError)
    }
  } finally {
    output.off('error', onError)
  }
  if (failure && failure.code !== 'EPIPE') throw failure
}

async function evaluateLine(line: string, lineNumber: number, cache: Map<string, InLineRule | RuleConfigError>): Promise<{ id?: unknown; result: Output }> {
  let input: unknown
  try {
    input = JSON.parse(line)
  } catch (e) {
    return { result: { error: `line ${lineNumber}: invalid JSON: ${(e as Error).message}` } }
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { result: { error: `line ${lineNumber}: expected a JSON object with "rule", "metadata" and "payload"` } }
  }
  const { id, rule, metadata, payload } = input as { id?: unknown; rule?: unknown; metadata?: unknown; payload?: unknown }
  if (typeof rule !== 'object' || rule === null || Array.isArray(rule)) {
    return { id, result: { error: `line ${lineNumber}: "rule" must be an object {"pluginId", "parameters"}` } }
  }
  const compiled = compileCached(rule as RuleConfig, cache)
  if (compiled instanceof Error) return { id, result: { error: compiled.message } }
  // In line, or in a worker thread stopped at the notifier's deadline: the notifier's verdict.
  const [result] = await matchSamples(compiled, [{ metadata, payload }])
  return { id, result: 'timedOut' in result ? { error: result.error } : result }
}

function compileCached(rule: RuleConfig, cache: Map<string, InLineRule | RuleConfigError>): InLineRule | Error {
  const key = JSON.stringify(rule)
  let compiled = cache.get(key)
  if (compiled === undefined) {
    try {
      compiled = compileRuleInLine(rule)
    } catch (e) {
      if (!(e instanceof RuleConfigError)) return e instanceof Error ? e : new Error(String(e))
      compiled = e
    }
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!)
    cache.set(key, compiled)
  }
  return compiled
}
