import fs from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { Kysely, PostgresDialect, PGliteDialect, sql, type Transaction } from 'kysely'
import { PGlite, types as pgliteTypes } from '@electric-sql/pglite'
import type { Logger } from '../log.ts'
import { prepareDataDir, restrictToOwner } from '../secrets/data-dir.ts'

/** Herald queries are written with Kysely's `sql` tag, so the database type is left open. */
export type Db = Kysely<any>
export type Tx = Transaction<any>
export type Backend = 'postgres' | 'pglite'

export interface Database {
  readonly db: Db
  readonly backend: Backend
  close(): Promise<void>
}

// int8 ids and counts fit in a double (2^53); reading them as numbers keeps pg and PGlite alike.
pg.types.setTypeParser(20, (v) => Number(v))

/** Bounds on what one query may hold of the pool and of the server; 0 leaves a bound to the server's setting. */
export interface PoolLimits {
  /** How long a query waits for a free pooled connection (or a new one) before it fails. */
  acquireTimeoutMs: number
  /** `statement_timeout` of every connection: a statement running longer is cancelled (SQLSTATE 57014). */
  statementTimeoutMs: number
  /** `idle_in_transaction_session_timeout`: a session idle this long inside a transaction is closed. */
  idleInTransactionTimeoutMs: number
}

export async function openPostgres(url: string, poolSize = 10, log?: Logger, limits?: PoolLimits): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    // Sent as start-up parameters of each connection, so they hold for every statement Herald runs.
    ...(limits && {
      connectionTimeoutMillis: limits.acquireTimeoutMs,
      statement_timeout: limits.statementTimeoutMs,
      idle_in_transaction_session_timeout: limits.idleInTransactionTimeoutMs,
    }),
  })
  // Every client gets a listener of its own: a checked-out one (e.g. held by an open transaction while the
  // outbox relay publishes) has no pool listener, and a server restart then emitted an unhandled 'error'
  // that killed the process. Its pending query rejects anyway, so the caller sees the failure; an idle one
  // is replaced by the next query. Either way the loss is logged, once.
  pool.on('connect', (client) => client.on('error', (err) => log?.warn({ err }, 'PostgreSQL connection lost (the next query reconnects)')))
  runMarkedAsPrepared(pool)
  // The pool re-emits an idle client's error, already logged above; without a listener it would crash.
  pool.on('error', () => undefined)
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
  return { db, backend: 'postgres', close: () => db.destroy() }
}

const PREPARED_MARK = '/* prepared */'

/**
 * Put first in a statement of the hot path (sql`${PREPARED} select …`) to have it run as a named prepared
 * statement on PostgreSQL: each connection parses and plans it once, then only binds it. The hot path's
 * statements are long CTEs over jsonb_to_recordset, costly to plan at every call: with them prepared (and
 * the events published from memory), PostgreSQL's CPU per notification request went from 530 to 415 µs
 * (bench --quick, docs/benchmarks.md). Only marked statements: a generic plan fits a statement over a
 * batch (its selectivity is the batch's length, not a value), not a listing whose filters (a date range,
 * a dominant tenant) want a plan of their own each time, and a filter-built text per combination would
 * fill every connection with statements used once. PgBouncer in transaction mode keeps named statements
 * working from 1.21 on, with max_prepared_statements set (docs/deployment.md). PGlite ignores the mark.
 */
export const PREPARED = sql.raw(PREPARED_MARK)

/** Runs the statements marked PREPARED as named prepared statements; a name per text, the same on every connection of the pool. */
function runMarkedAsPrepared(pool: pg.Pool): void {
  const names = new Map<string, string>()
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown
    client.query = ((text: unknown, values?: unknown, callback?: unknown) => {
      if (typeof text === 'string' && text.startsWith(PREPARED_MARK)) {
        let name = names.get(text)
        if (name === undefined) names.set(text, (name = `herald_${names.size + 1}`))
        return query({ name, text, values }, callback)
      }
      return query(text, values, callback)
    }) as typeof client.query
  })
}

/**
 * Opens the embedded database in `dataDir` (or in memory when `dataDir` is undefined).
 * PGlite is one process's database: a lock file with the owner's pid refuses a second process.
 * The directory is Herald's user's only (0700, see prepareDataDir), and so are the files PGlite creates.
 */
export async function openPglite(dataDir: string | undefined): Promise<Database> {
  let releaseLock = () => {}
  if (dataDir) {
    prepareDataDir(dataDir)
    releaseLock = lockDataDir(dataDir)
  }
  try {
    const pglite = await PGlite.create(dataDir ? path.join(dataDir, 'pgdata') : undefined, {
      parsers: { [pgliteTypes.INT8]: (v: string) => Number(v) },
    })
    if (dataDir) restrictToOwner(dataDir)
    const db = new Kysely<any>({ dialect: new PGliteDialect({ pglite }) })
    return {
      db,
      backend: 'pglite',
      close: async () => {
        await db.destroy()
        releaseLock()
      },
    }
  } catch (err) {
    releaseLock()
    throw err
  }
}

function lockDataDir(dataDir: string): () => void {
  const lockFile = path.join(dataDir, 'herald.lock')
  try {
    const pid = Number(fs.readFileSync(lockFile, 'utf8'))
    if (pid && pid !== process.pid && isAlive(pid)) {
      throw new Error(
        `The data directory ${dataDir} is in use by Herald process ${pid}. The embedded database serves one ` +
          `process only: stop that process, use another HERALD_DATA_DIR, or set HERALD_DATABASE_URL to share a PostgreSQL.`,
      )
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  fs.writeFileSync(lockFile, String(process.pid), { mode: 0o600 })
  return () => fs.rmSync(lockFile, { force: true })
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** True when the database answers a trivial query. */
export async function isDatabaseReachable(db: Db): Promise<boolean> {
  try {
    await sql`select 1`.execute(db)
    return true
  } catch {
    return false
  }
}
