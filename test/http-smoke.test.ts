import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHttpFixture, rabbitRecipient, luceneRule, type HttpFixture } from './http-helpers.ts'

describe('smoke', () => {
  let f: HttpFixture
  beforeAll(async () => { f = await startHttpFixture('pglite') })
  afterAll(async () => { await f?.close() })
  it('works', async () => {
    let r = await f.call('GET', '/api/v1/recipients')
    console.log(r.statusCode, r.body)
    r = await f.call('POST', '/api/v1/recipients', { body: rabbitRecipient('a', { password: 'x' }) })
    console.log(r.statusCode, r.body)
    r = await f.call('POST', '/api/v1/rules', { body: luceneRule('r1', 'action:CREATED', ['a']) })
    console.log(r.statusCode, r.body)
    r = await f.call('GET', '/api/v1/recipients', { as: null })
    console.log(r.statusCode, r.headers['content-type'], r.body)
    r = await f.call('GET', '/api/v1/requests')
    console.log(r.statusCode, r.body)
    r = await f.call('GET', '/api/v1/dead-letters')
    console.log(r.statusCode, r.body)
    r = await f.call('GET', '/api/v1/configuration')
    console.log(r.statusCode, r.body)
    r = await f.call('GET', '/api/v1/openapi.json', { as: null })
    console.log(r.statusCode, r.body.slice(0, 3000))
    r = await f.call('GET', '/metrics', { as: null })
    console.log(r.statusCode, r.body.split('\n').filter((l) => l.startsWith('herald_')).join('\n'))
    expect(1).toBe(1)
  })
})
