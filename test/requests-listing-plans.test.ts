import { Kysely, PostgresDialect, type CompiledQuery } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openPostgres, type Database } from '../src/db/client.ts'
import { migrateOrThrow } from '../src/db/migrate.ts'
import type { OpsDeps } from '../src/ops/deps.ts'
import type { Principal } from '../src/ops/principal.ts'
import { requestsBulkRetryEstimate } from '../src/ops/requests-bulk-retry-estimate.ts'
import { requestsList, type RequestsListInput } from '../src/ops/requests-list.ts'
import { seedRequests, type SeededRequests } from './support/seed-requests.ts'
import { createTestStorage, type TestStorage } from './support/services.ts'

/**
 * The plans of every statement the requests listing (REST GET /api/v1/requests, the console's requests
 * page) and the console's bulk-retry count run, on 100,000 requests: captured from the operations
 * themselves through Kysely's query log, then EXPLAINed with their parameters once the tables are
 * ANALYZEd. None may read a big table from end to end (Seq Scan). Speed is measured by the bench
 * (`npm run bench -- --only console.requests`), never here.
 */
const BIG_TABLES = new Set(['notification_request', 'delivery', 'delivery_attempt', 'request_history'])
const COUNT = 100_000

interface PlanNode {
  'Node Type': string
  'Relation Name'?: string
  'Index Name'?: string
  Plans?: PlanNode[]
}

/** Every node of a plan, depth first. */
const nodes = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodes)]

/** "Seq Scan on delivery, Index Scan on notification_request (notification_request_pkey), …": a plan in one line. */
const describePlan = (plan: PlanNode) =>
  nodes(plan)
    .filter((n) => n['Relation Name'])
    .map((n) => `${n['Node Type']} on ${n['Relation Name']}${n['Index Name'] ? ` (${n['Index Name']})` : ''}`)
    .join(', ')

describe('postgres: the requests listing on 100,000 requests reads through indexes (EXPLAIN of the statements it runs)', () => {
  let storage: TestStorage
  let database: Database
  let logged: Kysely<any>
  /** Runs the EXPLAINs, out of the log. */
  let explainer: pg.Client
  let seeded: SeededRequests
  let principal: Principal
  const captured: CompiledQuery[] = []

  beforeAll(async () => {
    storage = await createTestStorage('postgres')
    database = await openPostgres(storage.databaseUrl!)
    await migrateOrThrow(database.db)
    seeded = await seedRequests(database.db, { count: COUNT })
    principal = { tenant: seeded.tenant, role: 'EXPLOIT', subject: 'plans' }
    // The same database through a Kysely that records every statement it runs, as it sends it.
    logged = new Kysely<any>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: storage.databaseUrl, max: 2 }) }),
      log: (event) => {
        if (event.level === 'query') captured.push(event.query)
      },
    })
    explainer = new pg.Client({ connectionString: storage.databaseUrl })
    await explainer.connect()
  }, 120_000)

  afterAll(async () => {
    await explainer?.end()
    await logged?.destroy()
    await database?.close()
    await storage?.drop()
  })

  // requestsList and requestsBulkRetryEstimate read nothing of their deps but the database.
  const deps = () => ({ db: logged }) as Pick<OpsDeps, 'db'> as OpsDeps

  /** The statements `run` executes, each with its plan. */
  async function plansOf(run: () => Promise<unknown>): Promise<{ sql: string; plan: PlanNode }[]> {
    captured.length = 0
    await run()
    const statements = captured.filter((q) => /^\s*(select|with|\()/i.test(q.sql))
    expect(statements.length).toBeGreaterThan(0)
    const plans = []
    for (const q of statements) {
      const { rows } = await explainer.query(`explain (format json) ${q.sql}`, q.parameters as unknown[])
      plans.push({ sql: q.sql, plan: rows[0]['QUERY PLAN'][0].Plan as PlanNode })
    }
    return plans
  }

  /** The Seq Scans on big tables of a plan, less those the caller says are inherent. */
  const seqScans = (plan: PlanNode, allowed: string[] = []) =>
    nodes(plan)
      .filter((n) => n['Node Type'] === 'Seq Scan' && BIG_TABLES.has(n['Relation Name']!) && !allowed.includes(n['Relation Name']!))
      .map((n) => n['Relation Name'])

  const list = async (input: RequestsListInput, allowed: string[] = []) => {
    let page: Awaited<ReturnType<typeof requestsList>> | undefined
    const plans = await plansOf(async () => (page = await requestsList(deps(), principal, input)))
    for (const { sql, plan } of plans) {
      console.log(`${JSON.stringify(input)}: ${describePlan(plan)}`)
      expect(seqScans(plan, allowed), `${sql}\n${describePlan(plan)}`).toEqual([])
    }
    return page!
  }

  it('first page, next page by cursor', async () => {
    const first = await list({})
    expect(first.items).toHaveLength(50)
    expect(first.nextCursor).toBeDefined()
    const second = await list({ cursor: first.nextCursor })
    expect(second.items).toHaveLength(50)
    expect(second.items[0].requestId).not.toBe(first.items[49].requestId)
  })

  it('filtered by state (live, and SUCCESS: completed only)', async () => {
    for (const state of ['ERROR', 'RULE_ERROR', 'SCHEDULED', 'SUCCESS'] as const) {
      const page = await list({ state })
      expect(page.items.length).toBeGreaterThan(0)
      expect(page.items.every((r) => r.state === state)).toBe(true)
    }
  })

  it('filtered by recipient, by owner, by request id', async () => {
    for (const recipient of [seeded.recipients.common, seeded.recipients.rare]) expect((await list({ recipient })).items.length).toBeGreaterThan(0)
    for (const owner of [seeded.owners.common, seeded.owners.rare]) {
      const page = await list({ owner })
      expect(page.items.length).toBeGreaterThan(0)
      expect(page.items.every((r) => r.requestOwner === owner)).toBe(true)
    }
    expect((await list({ requestId: seeded.middleRequestId })).items.map((r) => r.requestId)).toEqual([seeded.middleRequestId])
  })

  it('filtered by date range (an hour, a minute)', async () => {
    const to = new Date(seeded.newest.getTime() - (COUNT / 2) * 1000)
    for (const [span, expected] of [[3600_000, 100], [60_000, 60]] as const) {
      const from = new Date(to.getTime() - span)
      const page = await list({ from, to, limit: 100 })
      expect(page.items).toHaveLength(expected)
      expect(page.items.every((r) => r.requestDate >= from && r.requestDate < to)).toBe(true)
    }
  })

  it('filtered by a payload field value', async () => {
    // Any field of the payload, compared as text (`payload #>> path = value`): no index serves an
    // arbitrary path, so PostgreSQL walks the requests newest first (by primary key, or a Seq Scan it
    // finds cheaper) until a page is found — about 1 in 50 requests matches here.
    const page = await list({ field: 'properties.mission', value: seeded.mission }, ['notification_request', 'request_history'])
    expect(page.items.length).toBe(50)
  })

  it("the console's bulk-retry count (exact count of the retryable requests, unfiltered and by owner)", async () => {
    for (const filter of [{}, { owner: seeded.owners.common }]) {
      const plans = await plansOf(() => requestsBulkRetryEstimate(deps(), principal, { filter }))
      for (const { sql, plan } of plans) {
        console.log(`estimate ${JSON.stringify(filter)}: ${describePlan(plan)}`)
        // A request is retryable when it is in RULE_ERROR *or* one of its deliveries failed: no index
        // serves that OR across two tables, so an exact count reads every live request of the tenant
        // (the live table only: completed requests have nothing to retry). Its failed deliveries come
        // from their partial index (delivery_failed), and the count gives way to the planner's
        // estimate past 1 s (src/notifier/retry-jobs.ts).
        expect(seqScans(plan, ['notification_request']), `${sql}\n${describePlan(plan)}`).toEqual([])
      }
    }
  })
})
