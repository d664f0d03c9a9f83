/**
 * `npm run bench [-- --quick] [--runs N] [--only a,b] [--profile] [--parked N]`: every benchmark of the
 * repository, one report.
 *
 * Prints each figure next to its reference (ratio) and its target (pass/fail), then writes
 * bench/report.md, bench/report.json and bench/report.png (throughput and latency over time of the
 * largest sustained notifier run). Each section is optional: a module that is missing, or that fails, is
 * reported in one line and the others still run. The broker's ceiling and Herald on PostgreSQL run first,
 * back to back (their ratios are the targets); `--runs N` repeats that pair N times and reports the median
 * of each figure. `--only notifier,senders` runs the sections whose names start so. `--profile` prints
 * PostgreSQL's top statements per request over Herald's largest sustained run. Bounded: about 8 minutes by
 * default (the scale scenarios included), under 1 with --quick (plus ~35 s per extra run).
 */
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import pg from 'pg'
import { PG_ADMIN_URL } from '../test/support/services.ts'
import { machine, median, progress, writeJson, type Figure } from './harness.ts'
import { describeProfile, type PgProfile } from './pg-profile.ts'
import { Canvas, drawPanel } from './report-png.ts'

const run = promisify(execFile)
const here = path.dirname(fileURLToPath(import.meta.url))
const argv = process.argv.slice(2)
const option = (name: string) => {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1] : undefined
}
const quick = argv.includes('--quick')
const profile = argv.includes('--profile')
const runs = Math.max(1, Number(option('--runs') ?? 1))
const only = option('--only')?.split(',').filter(Boolean)
/** Deliveries waiting behind the parked recipient of the scale scenario (full bench). */
const parkedBacklog = Number(option('--parked') ?? 1_000_000)
/** Seconds of the ceiling + Herald pair, once. */
const pairS = quick ? 35 : 80
const budgetMs = ((quick ? 58 : 480) + (runs - 1) * pairS) * 1000
const started = Date.now()
const loadAtStart = os.loadavg()

interface Row extends Figure {
  section: string
  pass?: boolean
}
interface Section {
  name: string
  /** Rough duration, to skip a section that would not fit the budget. */
  estimateS: number
  run(): Promise<Figure[]>
}

const rows: Row[] = []
const notes: string[] = []
let notifierRun: import('./notifier.ts').NotifierBench | undefined
let ceiling: import('./notifier.ts').BrokerCeiling | undefined
const profiles: PgProfile[] = []

/** Imports a bench module that may not exist (yet): undefined, with a line, when it does not. */
async function optional<T>(file: string): Promise<T | undefined> {
  if (!fs.existsSync(path.join(here, file))) {
    note(`${file}: not present, skipped`)
    return undefined
  }
  return (await import(`./${file}`)) as T
}

function note(line: string) {
  notes.push(line)
  progress(line)
}

const sizes = quick ? [500, 1000, 2000] : [2500, 5000, 10_000]
/** Open-loop seconds at half the broker's ceiling, for Herald and for the bare worker alike. */
const halfSeconds = quick ? 2 : 5
const sections: Section[] = [
  {
    name: 'notifier (postgres)',
    estimateS: pairS * runs,
    async run() {
      const m = await optional<typeof import('./notifier.ts')>('notifier.ts')
      if (!m) return []
      const perRun: Figure[][] = []
      for (let i = 1; i <= runs; i++) {
        if (runs > 1) progress(`── run ${i} of ${runs} (load average ${os.loadavg().map((l) => l.toFixed(1)).join(', ')})`)
        ceiling = await m.brokerCeiling({ count: sizes[sizes.length - 1], halfSeconds })
        notifierRun = await m.runNotifierBench({ backend: 'postgres', sizes, halfSeconds, ceiling, profile })
        if (notifierRun.profile) profiles.push(notifierRun.profile)
        const figures = [...m.ceilingFigures(ceiling), ...notifierRun.figures, ...scalingFigures('postgres', notifierRun.scaling)]
        perRun.push(figures)
        if (runs > 1) note(`run ${i}: ${['broker.ceiling', 'notifier.postgres.sustained', 'notifier.postgres.sustained_to_ceiling', 'notifier.postgres.cpu_to_worker', 'notifier.postgres.p99_at_half_ceiling'].map((n) => `${n} ${fmt(figures.find((f) => f.name === n)?.value ?? NaN)}`).join(', ')}`)
      }
      return medianFigures(perRun)
    },
  },
  {
    name: 'rules',
    // Includes starting the rule worker threads (under 1 s, several seconds on a loaded machine).
    estimateS: 12,
    async run() {
      const m = await optional<typeof import('./rules.ts')>('rules.ts')
      return m ? await m.benchRules() : []
    },
  },
  {
    name: 'startup',
    estimateS: 45,
    async run() {
      const m = await optional<typeof import('./startup.ts')>('startup.ts')
      return m ? await m.benchStartup() : []
    },
  },
  {
    name: 'notifier (pglite)',
    estimateS: quick ? 15 : 30,
    async run() {
      const m = await optional<typeof import('./notifier.ts')>('notifier.ts')
      if (!m) return []
      const r = await m.runNotifierBench({ backend: 'pglite', sizes: [quick ? 300 : 1000], halfSeconds: quick ? 1 : 2 })
      return r.figures
    },
  },
  {
    name: 'senders',
    estimateS: fs.existsSync(path.join(here, 'senders.ts')) ? (quick ? 30 : 60) : 0,
    async run() {
      const m = await optional<typeof import('./senders.ts')>('senders.ts')
      return m ? await m.benchSenders({ quick }) : []
    },
  },
  {
    name: 'scale: instances',
    estimateS: 75,
    async run() {
      if (quick) {
        note('scale: instances: skipped with --quick (about a minute)')
        return []
      }
      const m = await optional<typeof import('./instances.ts')>('instances.ts')
      return m ? await m.benchInstances({ instances: [1, 2, 3], requests: 5000 }) : []
    },
  },
  {
    name: 'scale: parked backlog',
    // Filling the database takes most of it: ~1 min per 1,000,000 deliveries here.
    estimateS: 30 + (parkedBacklog / 1_000_000) * 120,
    async run() {
      if (quick) {
        note('scale: parked backlog: skipped with --quick')
        return []
      }
      const m = await optional<typeof import('./senders.ts')>('senders.ts')
      return m && 'benchParkedBacklog' in m ? await (m as any).benchParkedBacklog({ backlog: parkedBacklog }) : []
    },
  },
  {
    name: 'catalog',
    estimateS: 70,
    async run() {
      if (quick) {
        note('catalog: skipped with --quick (about a minute)')
        return []
      }
      const m = await optional<typeof import('./catalog.ts')>('catalog.ts')
      return m ? await m.benchCatalog() : []
    },
  },
  {
    name: 'http',
    estimateS: 40,
    async run() {
      if (quick) {
        note('http: skipped with --quick (about 40 s)')
        return []
      }
      const m = await optional<typeof import('./http.ts')>('http.ts')
      return m ? await m.benchHttp() : []
    },
  },
  {
    name: 'console.requests',
    // Seeding 100,000 requests takes most of it.
    estimateS: 30,
    async run() {
      const m = await optional<typeof import('./console-requests.ts')>('console-requests.ts')
      return m ? await m.benchConsoleRequests() : []
    },
  },
]

/** Each figure's median (and its reference's) over several runs of the same section, in the first run's order. */
function medianFigures(perRun: Figure[][]): Figure[] {
  if (perRun.length === 1) return perRun[0]
  return perRun[0].map((first) => {
    const same = perRun.map((figures) => figures.find((f) => f.name === first.name)).filter((f): f is Figure => f !== undefined)
    const references = same.map((f) => f.reference).filter((r): r is number => r !== undefined)
    return { ...first, value: median(same.map((f) => f.value)), reference: references.length ? median(references) : undefined }
  })
}

/** Sustained rate at 1×, 2×, 4×: linear when the rate holds (within 25 %) and memory stays bounded. */
function scalingFigures(backend: string, scaling: import('./notifier.ts').ScalingPoint[]): Figure[] {
  const figures: Figure[] = scaling.flatMap((p) => [
    { name: `scaling.${backend}.${p.count}.seconds`, value: p.seconds, unit: 's' },
    { name: `scaling.${backend}.${p.count}.rate`, value: p.rate, unit: 'requests/s', reference: scaling[0].rate, referenceName: `rate at ${scaling[0].count}` },
    { name: `scaling.${backend}.${p.count}.herald_peak_rss`, value: p.rssMiB, unit: 'MiB' },
  ])
  const rates = scaling.map((p) => p.rate)
  const spread = (Math.max(...rates) - Math.min(...rates)) / Math.max(...rates)
  const first = scaling[0]
  const last = scaling[scaling.length - 1]
  const timeRatio = last.seconds / first.seconds
  const sizeRatio = last.count / first.count
  figures.push({ name: `scaling.${backend}.time_ratio_${sizeRatio}x`, value: timeRatio, unit: '×', target: `≤ ${(sizeRatio * 1.25).toFixed(1)}` })
  figures.push({ name: `scaling.${backend}.rss_growth_${sizeRatio}x`, value: last.rssMiB / first.rssMiB, unit: '×', target: '≤ 1.5' })
  const verdict = timeRatio <= sizeRatio * 1.25 ? (spread <= 0.25 ? 'linear' : timeRatio < sizeRatio ? 'better than linear (fixed costs amortised)' : 'linear within 25 %') : 'WORSE than linear'
  note(
    `scaling (${backend}): ${scaling.map((p) => `${p.count} in ${p.seconds.toFixed(1)} s (${p.rate.toFixed(0)}/s, ${p.rssMiB.toFixed(0)} MiB)`).join('; ')}` +
      ` → ${sizeRatio}× the load took ${timeRatio.toFixed(2)}× the time: ${verdict}; peak RSS ×${(last.rssMiB / first.rssMiB).toFixed(2)}`,
  )
  return figures
}

/** Each figure with a numeric target: value, target, PASS/FAIL and how far from its bound. */
function targetLines(): string[] {
  return rows.flatMap((r) => {
    const t = parseTarget(r.target)
    if (!t || r.pass === undefined) return []
    const measured = t.ofReference ? r.value / r.reference! : r.value
    const off = r.pass ? '' : ` (${(t.atMost ? measured / t.bound : t.bound / measured).toFixed(2)}× off)`
    const shown = t.ofReference ? `${fmt(measured)} ×` : `${fmt(r.value).padStart(10)} ${r.unit.padEnd(12)}`
    return [`  ${r.name.padEnd(56)} ${shown} target ${(r.target ?? '').padEnd(8)} ${r.pass ? 'PASS' : 'FAIL'}${off}`]
  })
}

/** `≥ 3000`, `≤ 250`: a bound of the value; `ratio ≥ 0.8`: a bound of value / reference. */
function parseTarget(target: string | undefined): { ofReference: boolean; atMost: boolean; bound: number } | undefined {
  const m = target && /^\s*(ratio\s+)?(≥|>=|≤|<=)\s*([\d.]+)/.exec(target)
  if (!m) return undefined
  return { ofReference: m[1] !== undefined, atMost: m[2] === '≤' || m[2] === '<=', bound: Number(m[3]) }
}

/** Pass/fail of a figure against its target (undefined: no numeric target, or a ratio without its reference). */
function judge(figure: Figure): boolean | undefined {
  const t = parseTarget(figure.target)
  if (!t || (t.ofReference && !figure.reference)) return undefined
  const measured = t.ofReference ? figure.value / figure.reference! : figure.value
  return t.atMost ? measured <= t.bound : measured >= t.bound
}

const fmt = (v: number) => (!Number.isFinite(v) ? String(v) : Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(2))

function line(r: Row): string {
  const ref = r.reference ? `ref ${fmt(r.reference)} (${(r.value / r.reference).toFixed(2)}×${r.referenceName ? `, ${r.referenceName}` : ''})` : ''
  const verdict = r.pass === undefined ? '' : r.pass ? 'PASS' : 'FAIL'
  return `${r.name.padEnd(58)} ${fmt(r.value).padStart(12)} ${r.unit.padEnd(14)} ${ref.padEnd(60)} ${(r.target ?? '').padEnd(8)} ${verdict}`
}

async function versions(): Promise<Record<string, string>> {
  const v: Record<string, string> = { node: process.version }
  const pkg = (name: string) => {
    try {
      return JSON.parse(fs.readFileSync(path.join(here, '..', 'node_modules', name, 'package.json'), 'utf8')).version as string
    } catch {
      return 'unknown'
    }
  }
  v.herald = JSON.parse(fs.readFileSync(path.join(here, '..', 'package.json'), 'utf8')).version
  v.pglite = pkg('@electric-sql/pglite')
  v['rabbitmq-client'] = pkg('rabbitmq-client')
  v.pg = pkg('pg')
  try {
    const client = new pg.Client({ connectionString: PG_ADMIN_URL })
    await client.connect()
    v.postgresql = (await client.query('show server_version')).rows[0].server_version
    await client.end()
  } catch (err) {
    v.postgresql = `unreachable (${(err as Error).message})`
  }
  v.rabbitmq = await run('rabbitmqctl', ['-q', 'version']).then((r) => r.stdout.trim(), () => 'unknown')
  try {
    v.commit = (await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: here })).stdout.trim()
  } catch {
    v.commit = 'unknown'
  }
  return v
}

function chart(): Buffer | undefined {
  if (!notifierRun?.series.length) return undefined
  const canvas = new Canvas(900, 560)
  const s = notifierRun.series
  const count = notifierRun.scaling[notifierRun.scaling.length - 1]?.count
  drawPanel(canvas, { x: 10, y: 10, w: 880, h: 260 }, `completions per s (${count} requests, postgres)`, [
    { label: 'requests/s', color: [31, 119, 180], points: s.map((p) => [p.t, p.perSecond]) },
  ])
  drawPanel(canvas, { x: 10, y: 290, w: 880, h: 260 }, 'mean latency ms (publish to terminal event)', [
    { label: 'latency ms', color: [214, 39, 40], points: s.filter((p) => Number.isFinite(p.latencyMs)).map((p) => [p.t, p.latencyMs]) },
  ])
  return canvas.png()
}

function markdown(meta: { machine: ReturnType<typeof machine>; versions: Record<string, string>; seconds: number; loadAverage: { start: number[]; end: number[] } }): string {
  const out = [
    `# Herald benchmark report`,
    '',
    `Generated by \`npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}\` on ${new Date().toISOString()} in ${meta.seconds.toFixed(0)} s. See docs/benchmarks.md for what each figure means.`,
    '',
    `Machine: ${meta.machine.cores} cores, ${meta.machine.memoryGiB} GiB, ${meta.machine.platform}; load average ${meta.loadAverage.start.map((l) => l.toFixed(1)).join(', ')} at the start, ${meta.loadAverage.end.map((l) => l.toFixed(1)).join(', ')} at the end. Versions: ${Object.entries(meta.versions).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    '',
    '| figure | value | unit | reference | ratio | target | result |',
    '|---|---:|---|---|---:|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${fmt(r.value)} | ${r.unit} | ${r.reference ? `${fmt(r.reference)}${r.referenceName ? ` (${r.referenceName})` : ''}` : ''} | ${r.reference ? `${(r.value / r.reference).toFixed(2)}×` : ''} | ${r.target ?? ''} | ${r.pass === undefined ? '' : r.pass ? 'pass' : '**fail**'} |`,
    ),
    '',
    '## Targets',
    '',
    ...targetLines().map((l) => `- ${l.trim()}`),
    '',
    '## Notes',
    '',
    ...notes.map((n) => `- ${n}`),
    '',
    ...profiles.flatMap((p) => ['## PostgreSQL per request', '', '```', ...describeProfile(p), '```', '']),
  ]
  if (notifierRun?.series.length) out.push('## Sustained run over time', '', '![throughput and latency of the largest sustained run](report.png)', '')
  return out.join('\n')
}

async function main() {
  for (const section of sections) {
    if (only && !only.some((prefix) => section.name.startsWith(prefix))) continue
    const elapsed = Date.now() - started
    if (elapsed + section.estimateS * 1000 > budgetMs) {
      note(`${section.name}: skipped, would exceed the ${budgetMs / 1000} s budget (${(elapsed / 1000).toFixed(0)} s used)`)
      continue
    }
    const t = Date.now()
    progress(`── ${section.name}`)
    try {
      for (const f of await section.run()) {
        const row: Row = { ...f, section: section.name, pass: judge(f) }
        rows.push(row)
        console.log(line(row))
      }
      progress(`${section.name}: ${((Date.now() - t) / 1000).toFixed(0)} s`)
    } catch (err) {
      note(`${section.name}: FAILED — ${(err as Error).stack ?? err}`.split('\n')[0])
    }
  }
  const loadAverage = { start: loadAtStart, end: os.loadavg() }
  const meta = { machine: machine(), versions: await versions(), seconds: (Date.now() - started) / 1000, loadAverage }
  const failed = rows.filter((r) => r.pass === false)
  for (const p of profiles) console.log(['', ...describeProfile(p)].join('\n'))
  console.log(['', `Targets (load average ${os.loadavg().map((l) => l.toFixed(1)).join(', ')}):`, ...targetLines()].join('\n'))
  console.log(`\n${rows.length} figures, ${rows.filter((r) => r.pass).length} targets met, ${failed.length} missed${failed.length ? `: ${failed.map((r) => r.name).join(', ')}` : ''}; ${meta.seconds.toFixed(0)} s`)
  writeJson(path.join(here, 'report.json'), { quick, generatedAt: new Date().toISOString(), ...meta, figures: rows, notes, profiles, scaling: notifierRun?.scaling, series: notifierRun?.series })
  fs.writeFileSync(path.join(here, 'report.md'), markdown(meta))
  const png = chart()
  if (png) fs.writeFileSync(path.join(here, 'report.png'), png)
  progress(`wrote bench/report.md, bench/report.json${png ? ', bench/report.png' : ''}`)
}

// A hard stop past the budget: the children of the harness are killed on exit.
const watchdog = setTimeout(() => {
  progress(`budget exceeded by far (${(budgetMs * 1.5) / 1000} s): stopping`)
  process.exit(2)
}, budgetMs * 1.5)
watchdog.unref()

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err)
    process.exit(1)
  },
)
