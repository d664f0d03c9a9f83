import fs from 'node:fs'
import { InvalidArgumentError } from 'commander'
import { ERR_BAD_REQUEST, ERR_MALFORMED_JSON } from '../errors.ts'
import { PAGE_LIMIT_MAX, type Page } from '../ops/page.ts'

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

/** A JSON document as written for scripts: one line with `--json`, indented otherwise. */
export function printJson(value: unknown, oneLine = false): void {
  process.stdout.write(`${oneLine ? JSON.stringify(value) : JSON.stringify(value, null, 2)}\n`)
}

/**
 * Prints up to `limit` items of a cursor-paginated listing (the operation's pages, up to 500 items each):
 * one JSON object per line with `json`, else a table.
 */
export async function printListing<T>(opts: {
  limit: number
  json?: boolean
  header: string[]
  fetchPage: (limit: number, cursor: string | undefined) => Promise<Page<T>>
  toRow: (item: T) => string[]
}): Promise<void> {
  const table = [opts.header]
  let cursor: string | undefined
  let printed = 0
  while (printed < opts.limit) {
    const page = await opts.fetchPage(Math.min(PAGE_LIMIT_MAX, opts.limit - printed), cursor)
    for (const item of page.items) {
      if (opts.json) process.stdout.write(`${JSON.stringify(item)}\n`)
      else table.push(opts.toRow(item))
    }
    printed += page.items.length
    if (!page.nextCursor) break
    cursor = page.nextCursor
  }
  if (!opts.json) printTable(table)
}

/** A table of plain columns, padded, for humans; `--json` gives JSON lines for scripts. */
export function printTable(rows: string[][], out: NodeJS.WritableStream = process.stdout): void {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? []
  for (const row of rows) out.write(`${row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join('  ')}\n`)
}

/**
 * The JSON document of a file, or of stdin when `file` is undefined or `-` (the operation it is given to
 * checks it); refused (exit 2) HERALD_ERR_BAD_REQUEST when it cannot be read, HERALD_ERR_MALFORMED_JSON
 * when it is not JSON.
 */
export function readJsonInput(file: string | undefined): unknown {
  const name = file === undefined || file === '-' ? 'stdin' : file
  let text: string
  try {
    text = fs.readFileSync(name === 'stdin' ? 0 : name, 'utf8')
  } catch (err) {
    throw ERR_BAD_REQUEST(`${name}: ${(err as Error).message}`)
  }
  try {
    return JSON.parse(text)
  } catch (err) {
    throw ERR_MALFORMED_JSON(`${name} is not JSON: ${(err as Error).message}`)
  }
}
