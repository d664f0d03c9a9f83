import { InvalidArgumentError } from 'commander'
import { loadConfig, type Config } from '../../config.ts'
import type { Db } from '../../db/client.ts'
import { migrateOrThrow } from '../../db/migrate.ts'
import { openDatabase } from '../../main.ts'
import { ReplayTargetError } from '../dead-letters/replay.ts'
import { HeraldError } from '../../errors.ts'

/**
 * What the admin CLI commands (src/cli/requests.ts, recipients.ts, dlq.ts) share with each other: the
 * database of the configuration, progress lines, and errors shown as the API shows them.
 */
export async function withAdminDatabase<T>(fn: (db: Db, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig()
  const database = await openDatabase(config)
  try {
    await migrateOrThrow(database.db)
    return await fn(database.db, config)
  } finally {
    await database.close()
  }
}

/**
 * Progress of a long operation on stderr (stdout stays for results): one line rewritten in place on a
 * terminal, plain lines at most once a second otherwise (logs, CI), and always the last one.
 */
export function progressLine(stream: NodeJS.WriteStream = process.stderr): { update(text: string): void; done(text: string): void } {
  const tty = stream.isTTY === true
  let last = 0
  return {
    update(text) {
      const now = Date.now()
      if (tty) stream.write(`\r\x1b[K${text}`)
      else if (now - last >= 1000) stream.write(`${text}\n`)
      else return
      last = now
    },
    done(text) {
      stream.write(tty ? `\r\x1b[K${text}\n` : `${text}\n`)
    },
  }
}

/** Runs a command action; an API error becomes its message on stderr and exit code 1. */
export async function runAdmin(action: () => Promise<void>): Promise<void> {
  try {
    await action()
  } catch (err) {
    if (err instanceof HeraldError) {
      process.stderr.write(`${err.detail ?? err.title} (${err.code})\n`)
      process.exitCode = 1
    } else if (err instanceof InvalidArgumentError) {
      process.stderr.write(`error: ${err.message}\n`)
      process.exitCode = 2
    } else if (err instanceof ReplayTargetError) {
      process.stderr.write(`error: ${err.message}; nothing was published\n`)
      process.exitCode = 1
    } else {
      throw err
    }
  }
}

export function positiveInt(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer')
  return n
}

export function isoDate(value: string): Date {
  const d = new Date(value)
  if (Number.isNaN(d.getTime())) throw new InvalidArgumentError('must be an ISO-8601 date, e.g. 2026-01-31T00:00:00Z')
  return d
}

// Rows fetched per query when a listing is longer than that.
const LISTING_PAGE = 500

/**
 * Prints up to `limit` items of a keyset-paginated listing: one JSON object per line with `json`, else a
 * table. `fetchPage(limit, cursor)` returns up to `limit` items after `cursor` (the previous page's last
 * id), plus one more when there are more.
 */
export async function printListing<T extends { id: number }>(opts: {
  limit: number
  json?: boolean
  header: string[]
  fetchPage: (limit: number, cursor: number | undefined) => Promise<T[]>
  toJson: (item: T) => unknown
  toRow: (item: T) => string[]
}): Promise<void> {
  const table = [opts.header]
  let cursor: number | undefined
  let printed = 0
  while (printed < opts.limit) {
    const wanted = Math.min(LISTING_PAGE, opts.limit - printed)
    const page = await opts.fetchPage(wanted, cursor)
    const shown = page.slice(0, wanted)
    for (const item of shown) {
      if (opts.json) process.stdout.write(`${JSON.stringify(opts.toJson(item))}\n`)
      else table.push(opts.toRow(item))
    }
    printed += shown.length
    if (page.length <= shown.length) break
    cursor = shown[shown.length - 1].id
  }
  if (!opts.json) printTable(table)
}

/** A table of plain columns, padded, for humans; `--json` gives JSON lines for scripts. */
export function printTable(rows: string[][], out: NodeJS.WritableStream = process.stdout): void {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? []
  for (const row of rows) out.write(`${row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join('  ')}\n`)
}
