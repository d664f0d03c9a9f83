import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHttpFixture, type HttpFixture } from './http-helpers.ts'
import { BACKENDS } from './support/services.ts'

const urn = (n: number, tenant = 'project1') => `URN:FEATURE:DATA:${tenant}:00000000-0000-0000-0000-00000000000${n}:V1`

for (const backend of BACKENDS) {
  describe(`${backend}: catalog products and dissemination status through the API`, () => {
    let f: HttpFixture
    beforeAll(async () => {
      f = await startHttpFixture(backend)
      const db = f.herald.ctx.db
      // Three products: never disseminated, waiting for mission-b's ack, acknowledged by everyone.
      for (const [n, status] of [[1, 'NONE'], [2, 'PENDING'], [3, 'DONE']] as const) {
        const { rows } = await sql<{ id: number }>`insert into catalog_product (tenant, urn, kind, provider_id, version, session_owner, session, content, dissemination_status)
          values ('project1', ${urn(n)}, 'FEATURE', ${`provider-${n}`}, 1, 'owner', 's1', ${JSON.stringify({ type: 'Feature', id: `provider-${n}` })}::jsonb, ${status}) returning id`.execute(db)
        if (n >= 2) {
          await sql`insert into catalog_dissemination (product_id, tenant, label, request_date, ack_date, blocking)
            values (${rows[0].id}, 'project1', 'mission-b', '2026-01-01T00:00:00Z', ${n === 3 ? '2026-01-02T00:00:00Z' : null}, true)`.execute(db)
        }
      }
      await sql`insert into catalog_product (tenant, urn, kind, provider_id, version, content) values ('other', ${urn(9, 'other')}, 'FEATURE', 'p9', 1, '{}')`.execute(db)
      // One catalog request in ERROR, one still running, one of another tenant in ERROR; counters of both tenants.
      for (const [tenant, requestId, state] of [['project1', 'req-error', 'ERROR'], ['project1', 'req-granted', 'GRANTED'], ['other', 'req-other', 'ERROR']]) {
        await sql`insert into catalog_request (tenant, request_id, type, state, step, request_date, urn, errors)
          values (${tenant}, ${requestId}, 'DELETION', ${state}, 'LOCAL_ERROR', '2026-01-03T00:00:00Z', ${urn(2)}, ${state === 'ERROR' ? JSON.stringify(['remote refused']) : null}::jsonb)`.execute(db)
      }
      await sql`insert into catalog_counter (tenant, name, value) values ('project1', 'ack.unknown-urn', 2), ('other', 'ack.duplicate', 5)`.execute(db)
    })
    afterAll(async () => {
      await f?.close()
    })

    const get = async (url: string) => (await f.call('GET', url, { as: ['project1', 'EXPLOIT'] })).json()

    it('lists products with their dissemination infos, filtered by status and recipient label, page by page', async () => {
      const all = await get('/api/v1/products')
      expect(all.items.map((p: any) => p.urn)).toEqual([urn(1), urn(2), urn(3)])
      expect(all.items[1]).toMatchObject({
        providerId: 'provider-2',
        disseminationStatus: 'PENDING',
        disseminationPending: true,
        disseminationsInfo: [{ label: 'mission-b', requestDate: '2026-01-01T00:00:00Z', blocking: true }],
      })
      expect(all.items[1].content).toBeUndefined()
      expect((await get('/api/v1/products?status=PENDING')).items.map((p: any) => p.urn)).toEqual([urn(2)])
      expect((await get('/api/v1/products?label=mission-b&status=DONE')).items.map((p: any) => p.urn)).toEqual([urn(3)])
      expect((await get('/api/v1/products?label=mission-b&status=NONE')).items.map((p: any) => p.urn)).toEqual([urn(1)])
      expect((await get('/api/v1/products?withContent=true&providerId=provider-1')).items[0].content).toEqual({ type: 'Feature', id: 'provider-1' })
      const page1 = await get('/api/v1/products?limit=2')
      const page2 = await get(`/api/v1/products?limit=2&cursor=${page1.nextCursor}`)
      expect(page2.items.map((p: any) => p.urn)).toEqual([urn(3)])
      const bad = await f.call('GET', '/api/v1/products?cursor=eyJ4Ijox', { as: ['project1', 'EXPLOIT'] })
      expect([bad.statusCode, bad.json().code]).toEqual([400, 'HERALD_ERR_BAD_CURSOR'])
    })

    it('shows one product by URN, in its tenant only', async () => {
      expect(await get(`/api/v1/products/${urn(3)}`)).toMatchObject({ urn: urn(3), disseminationStatus: 'DONE', content: { id: 'provider-3' } })
      expect((await f.call('GET', `/api/v1/products/${urn(9, 'other')}`)).statusCode).toBe(404)
      expect((await f.call('GET', '/api/v1/products/..%2F..%2Fetc%2Fpasswd')).statusCode).toBe(400)
    })

    it('lists catalog requests and counters', async () => {
      const errors = await get('/api/v1/catalog/requests?state=ERROR')
      expect(errors.items).toMatchObject([{ requestId: 'req-error', state: 'ERROR', type: 'DELETION', urn: urn(2), errors: ['remote refused'] }])
      expect((await get('/api/v1/catalog/requests')).items.map((r: any) => r.requestId)).toEqual(['req-error', 'req-granted'])
      expect(await get('/api/v1/catalog/requests?state=SUCCESS')).toEqual({ items: [] })
      expect(await get('/api/v1/catalog/counters')).toEqual({ 'ack.unknown-urn': 2 })
    })
  })
}
