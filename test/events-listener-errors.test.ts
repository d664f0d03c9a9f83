import { Writable } from 'node:stream'
import { sql } from 'kysely'
import pg from 'pg'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { openPostgres } from '../src/db/client.ts'
import { HeraldEvents } from '../src/events.ts'
import { createTestStorage, PG_ADMIN_URL } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

function logSink() {
  const lines: Record<string, any>[] = []
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line))
      done()
    },
  })
  return { lines, log: pino({ level: 'info' }, sink) }
}

describe('lifecycle events', () => {
  it('logs the error of a listener that throws, and still calls the other listeners and returns to the emitter', () => {
    const { lines, log } = logSink()
    const events = new HeraldEvents(log)
    const seen: string[] = []
    events.on('delivery:failed', () => {
      throw new Error('metrics registry is gone')
    })
    events.on('delivery:retried', (e) => seen.push(e.recipient))
    expect(() => events.safeEmit('delivery:failed', { tenant: 't', recipient: 'hook', count: 1, permanent: false })).not.toThrow()
    events.safeEmit('delivery:retried', { tenant: 't', recipient: 'hook', count: 1 })
    expect(seen).toEqual(['hook'])
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ level: 50, msg: 'an event listener failed', event: 'delivery:failed', err: { message: 'metrics registry is gone', type: 'Error' } })
  })
})

describe('postgres: the connection pool', () => {
  it('logs an idle connection that the server dropped, instead of swallowing the error', async () => {
    const storage = await createTestStorage('postgres')
    const { lines, log } = logSink()
    const database = await openPostgres(storage.databaseUrl!, 2, log)
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL })
    try {
      await sql`select 1`.execute(database.db)
      await admin.connect()
      const name = new URL(storage.databaseUrl!).pathname.slice(1)
      await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [name])
      await waitFor(() => lines.length > 0, 'the log line')
      expect(lines[0]).toMatchObject({ level: 40, msg: 'PostgreSQL connection lost (the next query reconnects)', err: { message: expect.stringContaining('terminat') } })
      expect(lines).toHaveLength(1)
      // And the pool goes on.
      expect((await sql<{ one: number }>`select 1 as one`.execute(database.db)).rows).toEqual([{ one: 1 }])
    } finally {
      await admin.end()
      await database.close()
      await storage.drop()
    }
  })
})
