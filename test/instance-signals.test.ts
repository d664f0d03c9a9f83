import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openPostgres, type Database } from '../src/db/client.ts'
import { InstanceSignals } from '../src/db/instance-signals.ts'
import { createLogger } from '../src/log.ts'
import { createTestStorage, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

/** Two Herald processes on one PostgreSQL: each hears of the other's new deliveries (LISTEN/NOTIFY). */
describe('postgres: new deliveries announced to the other instances', () => {
  let storage: TestStorage
  let database: Database
  const log = createLogger('silent')
  const woken = { a: 0, b: 0 }
  let a: InstanceSignals
  let b: InstanceSignals

  beforeAll(async () => {
    storage = await createTestStorage('postgres')
    database = await openPostgres(storage.databaseUrl!, 2)
    a = new InstanceSignals(storage.databaseUrl!, database.db, 'instance-a', log)
    b = new InstanceSignals(storage.databaseUrl!, database.db, 'instance-b', log)
    await a.start((signal) => signal === 'deliveries' && woken.a++)
    await b.start((signal) => signal === 'deliveries' && woken.b++)
  })

  afterAll(async () => {
    await a?.stop()
    await b?.stop()
    await database?.close()
    await storage?.drop()
  })

  it('wakes the other instance, never the one that announced', async () => {
    a.announce()
    await waitFor(() => woken.b === 1, 'instance b to be woken')
    b.announce()
    await waitFor(() => woken.a === 1, 'instance a to be woken')
    expect(woken).toEqual({ a: 1, b: 1 })
  })

  it('coalesces a burst of announcements', async () => {
    const before = woken.b
    for (let i = 0; i < 100; i++) a.announce()
    await waitFor(() => woken.b > before, 'instance b to be woken')
    await new Promise((r) => setTimeout(r, 300))
    // One NOTIFY in flight and one more for the 99 calls made meanwhile.
    expect(woken.b - before).toBeLessThanOrEqual(2)
  })

  it('listens again after its connection is killed, and looks for the work it may have missed', async () => {
    const before = { ...woken }
    const admin = new pg.Client({ connectionString: storage.databaseUrl })
    await admin.connect()
    const { rowCount } = await admin.query(
      `select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query = 'listen herald_deliveries'`,
    )
    await admin.end()
    expect(rowCount).toBe(2)
    await waitFor(() => woken.a > before.a && woken.b > before.b, 'both instances to listen again')
    const afterReconnect = woken.b
    a.announce()
    await waitFor(() => woken.b > afterReconnect, 'instance b to be woken after the reconnection')
  })
})
