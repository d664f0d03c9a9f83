import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PREPARED } from '../src/db/client.ts'
import { BACKENDS, openTestDatabase, type TestDatabase } from './support/services.ts'

/** Only the statements marked PREPARED become named prepared statements (src/db/client.ts); the others are parsed each time. */
describe('postgres: prepared statements', () => {
  let database: TestDatabase
  beforeAll(async () => {
    database = await openTestDatabase('postgres')
  })
  afterAll(() => database?.drop())

  it('prepares a marked statement once per connection under one name, and never an unmarked one', async () => {
    const prepared = await database.db.connection().execute(async (conn) => {
      for (const n of [1, 2, 3]) {
        await sql`${PREPARED}select ${n}::int as marked_value`.execute(conn)
        await sql`select ${n}::int as unmarked_value`.execute(conn)
      }
      return (await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements`.execute(conn)).rows
    })
    expect(prepared).toHaveLength(1)
    expect(prepared[0].name).toMatch(/^herald_\d+$/)
    expect(prepared[0].statement).toContain('marked_value')
  })
})

for (const backend of BACKENDS) {
  it(`${backend}: a marked statement gives the same rows as an unmarked one`, async () => {
    const database = await openTestDatabase(backend)
    try {
      const marked = await sql<{ v: number }>`${PREPARED}select x as v from unnest(${[3, 1, 2]}::int[]) x order by x`.execute(database.db)
      expect(marked.rows.map((r) => r.v)).toEqual([1, 2, 3])
    } finally {
      await database.drop()
    }
  })
}
