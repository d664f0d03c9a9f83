import { PassThrough, Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runRulesTest } from '../src/cli/rules-test.ts'
import { luceneRule, param, rabbitRecipient, startHttpFixture, type HttpFixture } from './http-helpers.ts'
import { BACKENDS } from './support/services.ts'

for (const backend of BACKENDS) {
  describe(`${backend}: hostile and malformed input`, () => {
    let f: HttpFixture
    beforeAll(async () => {
      f = await startHttpFixture(backend)
      expect((await f.call('POST', '/api/v1/recipients', { body: rabbitRecipient('rcp-a') })).statusCode).toBe(201)
    })
    afterAll(async () => {
      await f?.close()
    })

    const problem = (r: { statusCode: number; headers: Record<string, unknown>; json(): any }) => {
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/)
      const body = r.json()
      expect(body).toMatchObject({ status: r.statusCode, type: `urn:herald:problem:${body.code}` })
      return [r.statusCode, body.code]
    }

    it('answers malformed JSON 400 HERALD_ERR_MALFORMED_JSON', async () => {
      for (const raw of ['{', '{"pluginId": }', 'null garbage', '{"__proto__": {"admin": true}}']) {
        expect(problem(await f.call('POST', '/api/v1/recipients', { raw }))).toEqual([400, expect.stringMatching(/MALFORMED_JSON|VALIDATION/)])
      }
      expect(problem(await f.call('POST', '/api/v1/recipients', { raw: '{' }))).toEqual([400, 'HERALD_ERR_MALFORMED_JSON'])
    })

    it('answers wrong types 400 HERALD_ERR_VALIDATION naming the field, without coercion', async () => {
      const r = await f.call('POST', '/api/v1/recipients', { body: { ...rabbitRecipient('rcp-b'), label: 5 } })
      expect(problem(r)).toEqual([400, 'HERALD_ERR_VALIDATION'])
      expect(r.json().errors).toContainEqual(expect.objectContaining({ in: 'body', path: '/label' }))
      expect(problem(await f.call('POST', '/api/v1/recipients', { body: { ...rabbitRecipient('rcp-b'), active: 'true' } }))).toEqual([400, 'HERALD_ERR_VALIDATION'])
      expect(problem(await f.call('POST', '/api/v1/recipients', { body: [] }))).toEqual([400, 'HERALD_ERR_VALIDATION'])
      expect(problem(await f.call('POST', '/api/v1/requests/retry', { body: { requestIds: 'req-1' } }))).toEqual([400, 'HERALD_ERR_VALIDATION'])
      expect(problem(await f.call('GET', '/api/v1/recipients?limit=abc'))).toEqual([400, 'HERALD_ERR_VALIDATION'])
      expect(problem(await f.call('GET', '/api/v1/recipients?limit=100000'))).toEqual([400, 'HERALD_ERR_VALIDATION'])
      expect(problem(await f.call('GET', '/api/v1/requests?from=yesterday'))).toEqual([400, 'HERALD_ERR_VALIDATION'])
      expect(problem(await f.call('GET', '/api/v1/requests?state=LOST'))).toEqual([400, 'HERALD_ERR_VALIDATION'])
    })

    it('rejects unknown fields, in bodies, nested objects and query strings', async () => {
      expect(problem(await f.call('POST', '/api/v1/recipients', { body: { ...rabbitRecipient('rcp-b'), colour: 'red' } }))).toEqual([400, 'HERALD_ERR_VALIDATION'])
      const nested = rabbitRecipient('rcp-b')
      nested.parameters[0] = { ...nested.parameters[0], extra: 1 } as any
      expect(problem(await f.call('POST', '/api/v1/recipients', { body: nested }))).toEqual([400, 'HERALD_ERR_VALIDATION'])
      expect(problem(await f.call('POST', '/api/v1/rules/test', { body: { rule: { pluginId: 'LuceneRuleMatcher', parameters: [], colour: 1 } } }))).toEqual([400, 'HERALD_ERR_VALIDATION'])
      expect(problem(await f.call('GET', '/api/v1/recipients?colour=red'))).toEqual([400, 'HERALD_ERR_VALIDATION'])
      expect(problem(await f.call('POST', '/api/v1/requests/retry', { body: { all: true, force: true } }))).toEqual([400, 'HERALD_ERR_VALIDATION'])
      expect((await f.call('GET', '/api/v1/recipients/rcp-b')).statusCode).toBe(404)
    })

    it('answers bodies over 1 MiB 413, and other media types 415', async () => {
      const big = { ...rabbitRecipient('rcp-big'), label: 'x'.repeat(2 * 1024 * 1024) }
      expect(problem(await f.call('POST', '/api/v1/recipients', { body: big }))).toEqual([413, 'HERALD_ERR_BODY_TOO_LARGE'])
      expect(problem(await f.call('POST', '/api/v1/recipients', { raw: 'pluginId=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }))).toEqual([415, 'HERALD_ERR_UNSUPPORTED_MEDIA_TYPE'])
    })

    it('never resolves ids as paths: traversal attempts are 400 or 404', async () => {
      const attempts = [
        ['/api/v1/recipients/..%2F..%2F..%2Fetc%2Fpasswd', 400],
        ['/api/v1/recipients/..', 404],
        ['/api/v1/rules/%2e%2e%2f%2e%2e%2fetc%2fpasswd', 400],
        ['/api/v1/dead-letters/..%2F1', 400],
        ['/api/v1/requests/..%2F..%2Fetc%2Fpasswd', 404],
        ['/api/v1/recipients/../../../etc/passwd', 404],
        ['/api/v1/../../etc/passwd', 404],
      ] as const
      for (const [url, status] of attempts) {
        const r = await f.call('GET', url)
        expect([url, r.statusCode]).toEqual([url, status])
        expect(r.body).not.toMatch(/root:/)
        expect(r.headers['content-type']).toMatch(/^application\/problem\+json/)
      }
      expect(problem(await f.call('PUT', '/api/v1/recipients/..%2Fx', { body: rabbitRecipient('x') }))).toEqual([400, 'HERALD_ERR_VALIDATION'])
    })

    it('answers a bad cursor 400 HERALD_ERR_BAD_CURSOR and an unknown route 404', async () => {
      for (const cursor of ['%%%', 'bm90LWpzb24', Buffer.from('["a",1]').toString('base64url'), Buffer.from('[1e999]').toString('base64url')]) {
        expect(problem(await f.call('GET', `/api/v1/requests?cursor=${cursor}`))).toEqual([400, 'HERALD_ERR_BAD_CURSOR'])
      }
      expect(problem(await f.call('GET', '/api/v1/nothing-here'))).toEqual([404, 'HERALD_ERR_ROUTE_NOT_FOUND'])
    })

    it('rejects a rule with a catastrophic regular expression (400), at test and at creation', async () => {
      const rule = { pluginId: 'LuceneRuleMatcher', parameters: [param('payload_rule', 'properties.name:/(a+)+$/')] }
      const tested = await f.call('POST', '/api/v1/rules/test', { body: { rule, payload: { properties: { name: `${'a'.repeat(40)}!` } } } })
      expect(problem(tested)).toEqual([400, 'HERALD_ERR_INVALID_RULE'])
      expect(tested.json().detail).toMatch(/backtrack/)
      const created = await f.call('POST', '/api/v1/rules', { body: { ...luceneRule('evil', 'action:X', ['rcp-a']), parameters: rule.parameters } })
      expect(problem(created)).toEqual([400, 'HERALD_ERR_INVALID_CONFIGURATION'])
      expect((await f.call('GET', '/api/v1/rules/evil')).statusCode).toBe(404)
    })

    it('answers a rule that would backtrack polynomially at once (linear-time engine), and stays responsive', async () => {
      const rule = { pluginId: 'LuceneRuleMatcher', parameters: [param('payload_rule', 'name:/.*.*.*.*.*.*.*b/')] }
      const started = Date.now()
      const [slow, health] = await Promise.all([
        f.call('POST', '/api/v1/rules/test', { body: { rule, payload: { name: 'a'.repeat(300) } } }),
        new Promise((r) => setTimeout(r, 50)).then(() => f.call('GET', '/api/v1/recipients')),
      ])
      // V8's linear-time engine takes over the backtracking regexp (src/rules/compile-rule.ts): a plain answer.
      expect(slow.json()).toMatchObject({ match: false })
      expect(health.statusCode).toBe(200)
      expect(Date.now() - started).toBeLessThan(5_000)
      const ok = await f.call('POST', '/api/v1/rules/test', { body: { rule, payload: { name: 'aab' } } })
      expect(ok.json()).toMatchObject({ match: true })
    })

    it('stops a rule that runs away at the deadline, as herald rules test does, and stays responsive', async () => {
      const rule = { pluginId: 'LuceneRuleMatcher', businessId: 'lookahead', parameters: [param('payload_rule', 'properties.title:/(?=a).*.*.*.*.*.*.*b/')] }
      const runaway = { properties: { title: 'a'.repeat(3000) } }
      const [api, other] = await Promise.all([
        f.call('POST', '/api/v1/rules/test', { body: { rule, payload: runaway } }),
        new Promise((r) => setTimeout(r, 50)).then(() => f.call('GET', '/api/v1/recipients')),
      ])
      expect(other.statusCode).toBe(200)
      expect(problem(api)).toEqual([400, 'HERALD_ERR_RULE_TOO_SLOW'])
      const cli = async (payload: object) => {
        const out = new PassThrough()
        const chunks: Buffer[] = []
        out.on('data', (c: Buffer) => chunks.push(c))
        await runRulesTest(Readable.from([JSON.stringify({ rule, metadata: {}, payload })]), out)
        return JSON.parse(Buffer.concat(chunks).toString('utf8'))
      }
      const line = await cli(runaway)
      expect(line).toEqual({ error: expect.stringMatching(/^the evaluation did not finish within 500 ms and was stopped .*look-ahead "\(\?=" at offset 0/) })
      expect(api.json().detail).toBe(`${line.error}: simplify the rule`)
      // On an ordinary title, the same verdict from both, evaluated in a worker with a warning saying so.
      const ok = await f.call('POST', '/api/v1/rules/test', { body: { rule, payload: { properties: { title: 'aab' } } } })
      expect(ok.json()).toEqual({ match: true, warnings: [expect.stringMatching(/look-ahead .* evaluated in a worker thread, stopped after 500 ms/)] })
      expect(await cli({ properties: { title: 'aab' } })).toEqual({ match: true })
    })

    it('tests rules: match, non-match with an explanation, evaluation error, warnings', async () => {
      const test = (rule: object, metadata: object, payload: object) => f.call('POST', '/api/v1/rules/test', { as: ['project1', 'EXPLOIT'], body: { rule, metadata, payload } })
      const lucene = { pluginId: 'LuceneRuleMatcher', parameters: [param('metadata_rule', 'action:CREATED'), param('payload_rule', 'properties.type:/L2_.*/')] }
      expect((await test(lucene, { action: 'CREATED' }, { properties: { type: 'L2_RAD' } })).json()).toEqual({ match: true, warnings: [] })
      const miss = (await test(lucene, { action: 'DELETED' }, { properties: { type: 'L2_RAD' } })).json()
      expect(miss).toMatchObject({ match: false, explain: expect.stringContaining('metadata_rule') })
      const withTypo = (await test({ ...lucene, parameters: [...lucene.parameters, param('payloadRule', 'x:y')] }, { action: 'CREATED' }, { properties: { type: 'L2' } })).json()
      expect(withTypo.warnings[0]).toMatch(/payloadRule/)
      const invalid = await test({ pluginId: 'LuceneRuleMatcher', parameters: [param('payload_rule', 'a:(b')] }, {}, {})
      expect(problem(invalid)).toEqual([400, 'HERALD_ERR_INVALID_RULE'])
      expect(invalid.json().errors[0]).toMatchObject({ parameter: 'payload_rule' })
      expect(problem(await test({ pluginId: 'NoSuchMatcher', parameters: [] }, {}, {}))).toEqual([400, 'HERALD_ERR_INVALID_RULE'])
    })
  })
}
