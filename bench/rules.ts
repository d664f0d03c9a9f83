/**
 * Rule evaluation speed: compiled rules evaluated on typical GeoJSON features (the shape FEM sends),
 * 1,024 distinct parsed objects in turn, about half of them matching.
 * Target: >= 200,000 evaluations/s on one core for a 3-clause Lucene rule.
 *
 * Standalone: `node --import tsx bench/rules.ts` prints each figure (median of 5 runs of >= 250 ms).
 *
 * The `*_batch_*` figures go the notifier's way (`matchSamples`, batches of 500 requests, the intake
 * batch size): a regex rule V8's linear engine runs stays in line; a look-ahead rule goes to a worker
 * thread with its deadline, one round trip per batch. Same run, so the ratio is the mechanism's cost.
 */
import { pathToFileURL } from 'node:url'
import { compileRule, compileRuleInLine, type RuleConfig } from '../src/rules/compile-rule.ts'
import { matchSamples, RULE_WORKERS } from '../src/rules/rule-workers.ts'

export interface BenchResult {
  name: string
  value: number
  unit: string
}

// A FEM feature as the notifier receives it (compare notifier-service 2352-template.json).
const FEATURE = {
  id: 'TEST:2325-1',
  urn: 'URN:FEATURE:DATA:geode:2a22f1ec-417d-3af7-a59c-445192bf7c55:V1',
  type: 'Feature',
  files: [{ attributes: { dataType: 'RAWDATA', mimeType: 'application/octet-stream', filename: 'test.tar', filesize: 2321 }, locations: [{ url: 'file:///data/test.tar' }] }],
  model: 'GEODE001',
  geometry: { type: 'Point', coordinates: [10, 20] },
  entityType: 'DATA',
  properties: {
    type: 'L2_RAD_GDR',
    is_valid: true,
    product_counter: 46,
    data: { type: 'L0A_LR_Packet', start_date: '2020-03-03T23:00:00Z', end_date: '2020-03-03T23:00:00Z', validity_flag: false },
    swot: { apid: 1, crid: 'DG0001', station: 'KUX', pass_number: 125, tile_number: 25, cycle_number: 23, granule_type: 'Cycle' },
    system: { filename: 'test.tar', filesize: 2321, extension: 'tar', ingestion_date: '2020-04-03T00:00:00Z' },
    tags: ['swot', 'l2', 'rad'],
  },
}
const METADATA = { action: 'CREATED', sessionOwner: 'bench', session: 'session-1' }

// Distinct objects, as the notifier gets them from JSON.parse, with values that make about half of them
// match: evaluating one object over and over would flatter the engine's inline caches.
const POOL_SIZE = 1024
const FEATURES = Array.from({ length: POOL_SIZE }, (_, i) => {
  const f = JSON.parse(JSON.stringify(FEATURE)) as typeof FEATURE
  f.id = `TEST:${i}`
  if (i % 2 === 1) f.properties.type = 'L1B_RAD_GDR'
  if (i % 3 === 1) f.properties.swot.station = 'MAS'
  f.properties.product_counter = i % 150
  return f
})

const lucene = (parameters: Record<string, unknown>): RuleConfig => ({
  pluginId: 'LuceneRuleMatcher',
  businessId: 'bench',
  parameters: Object.entries(parameters).map(([name, value]) => ({ name, value })),
})

const CASES: { name: string; rule: RuleConfig }[] = [
  {
    name: 'rules.lucene_3_clauses_per_s',
    rule: lucene({ payload_rule: 'properties.type:L2_RAD_GDR AND properties.is_valid:true AND properties.swot.station:KUX' }),
  },
  {
    name: 'rules.lucene_metadata_regex_per_s',
    rule: lucene({ metadata_rule: 'action:CREATED', payload_rule: 'properties.type:/L[1-3]_RAD_GD[A-Z]/ AND NOT properties.data.validity_flag:true' }),
  },
  {
    // Never matches, so every evaluation builds its explanation: the cost of the slow path.
    name: 'rules.lucene_non_match_explained_per_s',
    rule: lucene({ payload_rule: 'properties.type:L2_RAD_GDR AND properties.is_valid:true AND properties.swot.station:XXX' }),
  },
  {
    name: 'rules.lucene_extensions_range_array_per_s',
    rule: lucene({ herald_extensions: true, payload_rule: 'properties.product_counter:[0 TO 100] AND properties.tags:l2 AND properties.type:L2*' }),
  },
  {
    name: 'rules.default_deep_search_per_s',
    rule: { pluginId: 'DefaultRuleMatcher', parameters: [{ name: 'attributeToSeek', value: 'ingestion_date' }, { name: 'attributeValueToSeek', value: '2020-04-03T00:00:00Z' }] },
  },
]

/** Evaluations per second of `fn`, over at least `minMs`. */
function rate(fn: () => void, minMs: number): number {
  let n = 0
  let batch = 1000
  const start = performance.now()
  let elapsed = 0
  while (elapsed < minMs) {
    for (let i = 0; i < batch; i++) fn()
    n += batch
    batch *= 2
    elapsed = performance.now() - start
  }
  return (n / elapsed) * 1000
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

// The notifier's path: one batch of requests through matchSamples. Both rules match the same half.
const BATCH_CASES: { name: string; rule: RuleConfig }[] = [
  { name: 'rules.lucene_linear_regex_batch_per_s', rule: lucene({ payload_rule: 'properties.type:/L[1-3]_RAD_GD[A-Z]/ AND properties.is_valid:true' }) },
  { name: 'rules.lucene_deadline_regex_batch_per_s', rule: lucene({ payload_rule: 'properties.type:/(?=L2)L[1-3]_RAD_GD[A-Z]/ AND properties.is_valid:true' }) },
]
const BATCH = 500

/** Evaluations per second of batches of BATCH samples, over at least `minMs`. */
async function batchRate(fn: (batch: { metadata: unknown; payload: unknown }[]) => Promise<unknown>, minMs: number): Promise<number> {
  let n = 0
  let k = 0
  const start = performance.now()
  while (performance.now() - start < minMs) {
    const batch = Array.from({ length: BATCH }, () => ({ metadata: METADATA, payload: FEATURES[k++ & (POOL_SIZE - 1)] }))
    await fn(batch)
    n += BATCH
  }
  return (n / (performance.now() - start)) * 1000
}

/** Median of 5 runs per case, in evaluations (or compilations) per second. */
export async function benchRules(): Promise<BenchResult[]> {
  const results: BenchResult[] = []
  let sink = 0 // keeps the engine from discarding the evaluations
  for (const { name, rule } of CASES) {
    const compiled = compileRule(rule)
    const first = compiled.match(METADATA, FEATURE)
    if ('error' in first) throw new Error(`${name}: ${first.error}`)
    const runs: number[] = []
    let k = 0
    for (let r = 0; r < 5; r++) {
      runs.push(
        rate(() => {
          const res = compiled.match(METADATA, FEATURES[k++ & (POOL_SIZE - 1)])
          if ('match' in res && res.match) sink++
        }, 250),
      )
    }
    results.push({ name, value: Math.round(median(runs)), unit: 'evaluations/s' })
  }
  for (const { name, rule } of BATCH_CASES) {
    const compiled = compileRuleInLine(rule)
    const first = await matchSamples(compiled, [{ metadata: METADATA, payload: FEATURE }])
    if (!('match' in first[0] && first[0].match)) throw new Error(`${name}: ${JSON.stringify(first[0])}`)
    const runs: number[] = []
    for (let r = 0; r < 5; r++) runs.push(await batchRate((batch) => matchSamples(compiled, batch), 250))
    results.push({ name, value: Math.round(median(runs)), unit: 'evaluations/s' })
  }
  await RULE_WORKERS.close()
  const source = CASES[0].rule
  const compiles: number[] = []
  for (let r = 0; r < 5; r++) compiles.push(rate(() => void compileRule(source), 250))
  results.push({ name: 'rules.lucene_compile_per_s', value: Math.round(median(compiles)), unit: 'compilations/s' })
  if (sink < 0) console.log(sink)
  return results
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await benchRules()) console.log(`${r.name.padEnd(42)} ${r.value.toLocaleString('en-US').padStart(12)} ${r.unit}`)
}
