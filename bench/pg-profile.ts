/**
 * PostgreSQL's side of a run, per request: the top statements (pg_stat_statements: calls, mean time,
 * rows and WAL bytes of each) of one database, and the WAL the run wrote. `start()` before the window,
 * `finish(requests)` after it.
 *
 * pg_stat_statements needs `shared_preload_libraries = 'pg_stat_statements'` (a server restart;
 * scripts/services.sh sets it). Without it the profile falls back to the database's transaction and row
 * counters (pg_stat_database) and the WAL position, and says so.
 */
import pg from 'pg'
import { PG_ADMIN_URL } from '../test/support/services.ts'

export interface StatementProfile {
  query: string
  callsPerRequest: number
  meanUs: number
  /** Execution time of this statement per request (calls × mean), µs. */
  usPerRequest: number
  rowsPerRequest: number
  walBytesPerRequest: number
}

export interface PgProfile {
  source: 'pg_stat_statements' | 'pg_stat_database'
  requests: number
  /** The statements of the run's database, most execution time first (pg_stat_statements only). */
  statements: StatementProfile[]
  statementsPerRequest: number
  /** Execution time of every statement of the database per request, µs. */
  executionUsPerRequest: number
  /** WAL of the database's statements (pg_stat_statements), or NaN. */
  walBytesPerRequest: number
  /** WAL position difference: the whole cluster, other databases' writes included. */
  clusterWalBytesPerRequest: number
  commitsPerRequest: number
  note?: string
}

interface DatabaseCounters {
  commits: number
  rolledBack: number
  inserted: number
  updated: number
  deleted: number
  lsn: string
}

export class PgProfiler {
  readonly #database: string
  #admin: pg.Client | undefined
  #statements = false
  #before: DatabaseCounters | undefined

  constructor(databaseUrl: string) {
    this.#database = decodeURIComponent(new URL(databaseUrl).pathname.slice(1))
  }

  async start(): Promise<void> {
    this.#admin = new pg.Client({ connectionString: PG_ADMIN_URL })
    await this.#admin.connect()
    const loaded = (await this.#admin.query<{ libs: string }>("select current_setting('shared_preload_libraries') as libs")).rows[0].libs.split(',').map((l) => l.trim())
    this.#statements = loaded.includes('pg_stat_statements')
    if (this.#statements) {
      await this.#admin.query('create extension if not exists pg_stat_statements')
      // Only this database's entries: other databases' statistics (other runs, other suites) stay.
      await this.#admin.query('select pg_stat_statements_reset(0, (select oid from pg_database where datname = $1), 0)', [this.#database])
    }
    this.#before = await this.#counters()
  }

  async finish(requests: number): Promise<PgProfile> {
    if (!this.#admin || !this.#before) throw new Error('PgProfiler.finish before start')
    try {
      const after = await this.#counters()
      const before = this.#before
      const wal = Number((await this.#admin.query<{ bytes: string }>('select pg_wal_lsn_diff($1, $2)::bigint as bytes', [after.lsn, before.lsn])).rows[0].bytes)
      const per = (n: number) => n / requests
      const base = {
        requests,
        clusterWalBytesPerRequest: per(wal),
        commitsPerRequest: per(after.commits - before.commits),
      }
      if (!this.#statements) {
        return {
          ...base,
          source: 'pg_stat_database',
          statements: [],
          statementsPerRequest: NaN,
          executionUsPerRequest: NaN,
          walBytesPerRequest: NaN,
          note:
            `pg_stat_statements is not in shared_preload_libraries: transactions and rows only ` +
            `(inserted ${per(after.inserted - before.inserted).toFixed(1)}, updated ${per(after.updated - before.updated).toFixed(1)}, ` +
            `deleted ${per(after.deleted - before.deleted).toFixed(1)} rows per request)`,
        }
      }
      // Statements end in the view when they finish: the run's last ones are there once it is over.
      const { rows } = await this.#admin.query<{ query: string; calls: string; total_ms: number; rows: string; wal_bytes: string }>(
        `select s.query, s.calls, s.total_exec_time as total_ms, s.rows, s.wal_bytes
         from pg_stat_statements s join pg_database d on d.oid = s.dbid
         where d.datname = $1 and s.toplevel
         order by s.total_exec_time desc`,
        [this.#database],
      )
      const statements = rows.map((r) => ({
        query: r.query.replace(/\s+/g, ' ').trim(),
        callsPerRequest: per(Number(r.calls)),
        meanUs: (r.total_ms * 1000) / Number(r.calls),
        usPerRequest: per(r.total_ms * 1000),
        rowsPerRequest: per(Number(r.rows)),
        walBytesPerRequest: per(Number(r.wal_bytes)),
      }))
      const sum = (f: (s: StatementProfile) => number) => statements.reduce((a, s) => a + f(s), 0)
      return {
        ...base,
        source: 'pg_stat_statements',
        statements: statements.slice(0, 10),
        statementsPerRequest: sum((s) => s.callsPerRequest),
        executionUsPerRequest: sum((s) => s.usPerRequest),
        walBytesPerRequest: sum((s) => s.walBytesPerRequest),
      }
    } finally {
      await this.#admin.end()
      this.#admin = undefined
    }
  }

  async #counters(): Promise<DatabaseCounters> {
    // Counters of pg_stat_database are read from the statistics snapshot: clear it first.
    await this.#admin!.query('select pg_stat_clear_snapshot()')
    const { rows } = await this.#admin!.query<{ commits: string; rolled_back: string; inserted: string; updated: string; deleted: string; lsn: string }>(
      `select xact_commit as commits, xact_rollback as rolled_back, tup_inserted as inserted, tup_updated as updated, tup_deleted as deleted,
              pg_current_wal_lsn()::text as lsn
       from pg_stat_database where datname = $1`,
      [this.#database],
    )
    const r = rows[0]
    return { commits: Number(r.commits), rolledBack: Number(r.rolled_back), inserted: Number(r.inserted), updated: Number(r.updated), deleted: Number(r.deleted), lsn: r.lsn }
  }
}

/** The profile as lines of text: one per statement, then the totals. */
export function describeProfile(p: PgProfile): string[] {
  const lines = [`PostgreSQL per request over ${p.requests} requests (${p.source}):`]
  if (p.statements.length) {
    lines.push(`  ${'calls/req'.padStart(9)} ${'mean µs'.padStart(8)} ${'µs/req'.padStart(7)} ${'rows/req'.padStart(8)} ${'WAL B/req'.padStart(9)}  statement`)
    for (const s of p.statements) {
      const query = s.query.length > 110 ? `${s.query.slice(0, 107)}...` : s.query
      lines.push(`  ${s.callsPerRequest.toFixed(3).padStart(9)} ${s.meanUs.toFixed(0).padStart(8)} ${s.usPerRequest.toFixed(1).padStart(7)} ${s.rowsPerRequest.toFixed(2).padStart(8)} ${s.walBytesPerRequest.toFixed(0).padStart(9)}  ${query}`)
    }
    lines.push(`  all statements: ${p.statementsPerRequest.toFixed(2)} per request, ${p.executionUsPerRequest.toFixed(0)} µs of execution, ${p.walBytesPerRequest.toFixed(0)} B of WAL`)
  }
  lines.push(`  commits ${p.commitsPerRequest.toFixed(3)} per request; WAL position moved ${p.clusterWalBytesPerRequest.toFixed(0)} B per request (whole cluster)`)
  if (p.note) lines.push(`  ${p.note}`)
  return lines
}
