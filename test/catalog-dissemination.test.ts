import { sql } from 'kysely'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { applyChange, applyDisseminationChanges, type DisseminationChange } from '../src/catalog/apply-disseminations.ts'
import { createAips } from '../src/catalog/create-aips.ts'
import { getProduct } from '../src/catalog/queries/get-product.ts'
import { listProducts } from '../src/catalog/queries/list-products.ts'
import { BadCursorError } from '../src/catalog/queries/cursor.ts'
import { BACKENDS, openTestDatabase, type TestDatabase } from './support/services.ts'

const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s))
const put = (label: string, s: number, ackRequired = true, blocking = false): DisseminationChange => ({ kind: 'PUT', urn: '', label, date: t(s), ackRequired, blocking })
const ack = (label: string, s: number): DisseminationChange => ({ kind: 'ACK', urn: '', label, date: t(s) })

describe('dissemination rules (pure)', () => {
  it('PUT with ackRequired leaves the info pending; without, acknowledged at once', () => {
    expect(applyChange(undefined, put('a', 10))).toEqual({ next: { requestDate: t(10), ackDate: null, blocking: false }, outcome: 'put-new' })
    expect(applyChange(undefined, put('a', 10, false))).toEqual({ next: { requestDate: t(10), ackDate: t(10), blocking: false }, outcome: 'put-new' })
  })
  it('re-notification with a later date resets the dates (and clears the ack when one is required); earlier or equal changes nothing', () => {
    const acked = { requestDate: t(10), ackDate: t(12), blocking: true }
    expect(applyChange(acked, put('a', 20, true, false))).toEqual({ next: { requestDate: t(20), ackDate: null, blocking: true }, outcome: 'put-renotified' })
    expect(applyChange(acked, put('a', 20, false))).toEqual({ next: { requestDate: t(20), ackDate: t(20), blocking: true }, outcome: 'put-renotified' })
    expect(applyChange(acked, put('a', 10))).toEqual({ outcome: 'put-unchanged' })
    expect(applyChange(acked, put('a', 5))).toEqual({ outcome: 'put-unchanged' })
  })
  it('ACK acknowledges a pending info; an unknown label becomes an acknowledged info; a duplicate moves both dates', () => {
    const pending = { requestDate: t(10), ackDate: null, blocking: true }
    expect(applyChange(pending, ack('a', 15))).toEqual({ next: { requestDate: t(10), ackDate: t(15), blocking: true }, outcome: 'ack-applied' })
    // Clocks disagree: still acknowledged, never before its request date.
    expect(applyChange(pending, ack('a', 5))).toEqual({ next: { requestDate: t(10), ackDate: t(10), blocking: true }, outcome: 'ack-applied' })
    expect(applyChange(undefined, ack('a', 15))).toEqual({ next: { requestDate: t(15), ackDate: t(15), blocking: false }, outcome: 'ack-unknown-label' })
    expect(applyChange({ requestDate: t(10), ackDate: t(15), blocking: false }, ack('a', 20))).toEqual({
      next: { requestDate: t(20), ackDate: t(20), blocking: false },
      outcome: 'ack-duplicate',
    })
    expect(applyChange({ requestDate: t(10), ackDate: t(15), blocking: false }, ack('a', 15))).toEqual({ outcome: 'ack-duplicate' })
  })
  it('an ack that arrives before the notification SUCCESS stays acknowledged', () => {
    const first = applyChange(undefined, ack('a', 15)).next!
    expect(applyChange(first, put('a', 14))).toEqual({ outcome: 'put-unchanged' })
  })
})

for (const backend of BACKENDS) {
  describe(`${backend}: dissemination storage and product queries`, () => {
    let database: TestDatabase
    const tenant = 'project1'
    const urns: string[] = []

    beforeAll(async () => {
      database = await openTestDatabase(backend)
    })
    afterAll(async () => {
      await database?.drop()
    })
    beforeEach(async () => {
      await sql`delete from catalog_product`.execute(database.db)
      urns.length = 0
      const { results } = await createAips(database.db, tenant, [1, 2, 3, 4, 5].map((i) => ({ providerId: `p${i}`, session: 's', sessionOwner: 'o' })))
      urns.push(...results.map((r) => r.urn!))
      await createAips(database.db, 'other-tenant', [{ providerId: 'p1' }])
    })

    const apply = (changes: DisseminationChange[]) => database.db.transaction().execute((tx) => applyDisseminationChanges(tx, tenant, changes))

    it('records PUTs and ACKs in one batch, in order, and keeps each product status', async () => {
      const [u1, u2, u3] = urns
      const result = await apply([
        { ...put('A', 10), urn: u1 },
        { ...put('B', 10, false), urn: u1 },
        { ...put('B', 10, false), urn: u2 },
        { ...ack('A', 11), urn: u3 },
        { ...ack('A', 12), urn: 'URN:AIP:DATA:project1:87fdda0e-27d1-494f-a1c0-c57f2f0810f7:V1' },
      ])
      expect(result.outcomes).toMatchObject({ 'put-new': 3, 'ack-unknown-label': 1, 'unknown-urn': 1 })
      expect((await getProduct(database.db, tenant, u1))!.disseminationStatus).toBe('PENDING')
      expect((await getProduct(database.db, tenant, u2))!.disseminationStatus).toBe('DONE')
      expect((await getProduct(database.db, tenant, u3))!.disseminationStatus).toBe('DONE')
      expect((await getProduct(database.db, tenant, urns[3]))!.disseminationStatus).toBe('NONE')
      const p1 = (await getProduct(database.db, tenant, u1))!
      expect(p1.disseminationPending).toBe(true)
      expect(p1.disseminationsInfo).toEqual([
        { label: 'A', requestDate: '2026-01-01T00:00:10Z', blocking: false },
        { label: 'B', requestDate: '2026-01-01T00:00:10Z', ackDate: '2026-01-01T00:00:10Z', blocking: false },
      ])
      await apply([{ ...ack('A', 20), urn: u1 }])
      const acked = (await getProduct(database.db, tenant, u1))!
      expect(acked.disseminationStatus).toBe('DONE')
      expect(acked.disseminationsInfo[0]).toEqual({ label: 'A', requestDate: '2026-01-01T00:00:10Z', ackDate: '2026-01-01T00:00:20Z', blocking: false })
    })

    it('filters products by status, by label (that recipient status), by URN, and pages with a cursor', async () => {
      const [u1, u2, u3] = urns
      await apply([{ ...put('A', 10), urn: u1 }, { ...put('B', 10, false), urn: u1 }, { ...put('A', 10, false), urn: u2 }, { ...put('B', 10), urn: u3 }])
      const urnsOf = async (filters: Parameters<typeof listProducts>[2]) => (await listProducts(database.db, tenant, filters)).items.map((p) => p.urn)
      expect(await urnsOf({ status: 'PENDING' })).toEqual([u1, u3])
      expect(await urnsOf({ status: 'DONE' })).toEqual([u2])
      expect(await urnsOf({ status: 'NONE' })).toEqual([urns[3], urns[4]])
      expect(await urnsOf({ status: ['NONE', 'DONE'] })).toEqual([u2, urns[3], urns[4]])
      expect(await urnsOf({ label: 'A' })).toEqual([u1, u2])
      expect(await urnsOf({ label: 'A', status: 'PENDING' })).toEqual([u1])
      expect(await urnsOf({ label: 'B', status: 'DONE' })).toEqual([u1])
      expect(await urnsOf({ label: 'A', status: 'NONE' })).toEqual([u3, urns[3], urns[4]])
      expect(await urnsOf({ urn: u2 })).toEqual([u2])
      const page1 = await listProducts(database.db, tenant, { limit: 2 })
      expect(page1.items).toHaveLength(2)
      const page2 = await listProducts(database.db, tenant, { limit: 2, cursor: page1.nextCursor })
      const page3 = await listProducts(database.db, tenant, { limit: 2, cursor: page2.nextCursor })
      expect([...page1.items, ...page2.items, ...page3.items].map((p) => p.urn)).toEqual(urns)
      expect(page3.nextCursor).toBeUndefined()
      await expect(listProducts(database.db, tenant, { cursor: 'garbage' })).rejects.toBeInstanceOf(BadCursorError)
      // Tenants are isolated.
      expect((await listProducts(database.db, 'other-tenant')).items).toHaveLength(1)
      expect(JSON.parse(JSON.stringify(page1.items[0]))).toMatchObject({ kind: 'AIP', providerId: 'p1', version: 1, disseminationStatus: 'PENDING', disseminationPending: true })
    })

    it('sends blocked deletions back to be checked when a blocking info changes', async () => {
      const [u1] = urns
      await apply([{ ...put('A', 10, true, true), urn: u1 }])
      await sql`insert into catalog_request (tenant, request_id, type, state, step, request_date, urn)
        values (${tenant}, 'del-1', 'DELETION', 'GRANTED', 'WAITING_BLOCKING_DISSEMINATION', now(), ${u1})`.execute(database.db)
      const result = await apply([{ ...ack('A', 20), urn: u1 }])
      expect(result.released).toBe(1)
      const { rows } = await sql<{ step: string }>`select step from catalog_request where request_id = 'del-1'`.execute(database.db)
      expect(rows[0].step).toBe('LOCAL_DELAYED')
    })
  })
}
