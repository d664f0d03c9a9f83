import http from 'node:http'
import type { AddressInfo } from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHttpFixture, type HttpFixture } from './http-helpers.ts'
import { BACKENDS } from './support/services.ts'

/**
 * Authentication is decided on the route the router matched, not on the URL as sent: every spelling of a
 * protected path that the router may decode or normalise (percent-encoding, case, doubled slashes, dot
 * segments) is answered 401 or 404 without a token, never 200 and never 5xx. Requests go over a real
 * socket so that the path reaches the server byte for byte (inject() would normalise it first).
 */

interface Operation {
  method: string
  path: string
}

const SAMPLE_PARAMS: Record<string, string> = {
  businessId: 'rcp-a',
  requestId: 'req-1',
  id: '1',
  urn: 'URN:FEATURE:DATA:tenant-a:00000000-0000-0000-0000-000000000001:V1',
}

function send(port: number, method: string, path: string): Promise<{ status: number; body: string }> {
  // Every write operation gets a JSON body so that it would run if authentication let it through.
  const body = ['POST', 'PUT', 'PATCH'].includes(method) ? '{}' : undefined
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => (text += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

const encodeChar = (c: string, upperHex: boolean) => {
  const hex = c.charCodeAt(0).toString(16).padStart(2, '0')
  return `%${upperHex ? hex.toUpperCase() : hex}`
}
const encodeEvery = (path: string, upperHex: boolean) => path.replace(/[^/]/g, (c) => encodeChar(c, upperHex))
const encodeFirstLetters = (path: string) => path.replace(/\/([a-z])/gi, (_m, c: string) => `/${encodeChar(c, false)}`)
const segments = (path: string) => path.split('/').slice(1)
const join = (parts: string[]) => `/${parts.join('/')}`

/** Spellings of one path that a router or proxy might take for the same resource. */
function spellingsOf(path: string): string[] {
  const parts = segments(path)
  const spellings = new Set<string>([
    encodeFirstLetters(path),
    encodeEvery(path, false),
    encodeEvery(path, true),
    path.toUpperCase(),
    path.replace('/api/', '/API/'),
    path.replace('/v1/', '/V1/'),
    join(parts.map((p, i) => (i === parts.length - 1 ? p.toUpperCase() : p))),
    `/${path}`,
    path.replace('/api/', '/api//'),
    path.replace(/\/([^/]+)$/, '//$1'),
    `${path}/`,
    `${path}//`,
    `/.${path}`,
    path.replace('/v1/', '/v1/./'),
    path.replace('/v1/', '/v1/x/../'),
    path.replace('/api/', '/api/v1/../'),
    path.replace('/v1/', '/v1/%2e/'),
    path.replace('/v1/', '/v1/x/%2e%2e/'),
    path.replace('/v1/', '/v1/x/%2E%2E/'),
    path.replace('/api/v1/', '/api%2fv1/'),
    path.replace('/api/v1/', '/api%2Fv1%2F'),
    path.replace(/\//g, '\\').replace(/^\\/, '/'),
    `${path}%20`,
    `${path};x=1`,
    `${path}#fragment`,
  ])
  spellings.delete(path)
  return [...spellings]
}

/**
 * One path spelling drawn by fast-check: each character kept, re-cased or percent-encoded, slashes doubled or
 * dotted. Half the draws only percent-encode, the spellings the router decodes back to a real route (the ones
 * that got through before authentication followed the matched route); the others mix everything.
 */
const spelling = (path: string) => {
  // An escape already in the path (`%3A` in a URN) is one unit: encoding its `%` alone would make it invalid (400).
  const chars = path.match(/%[0-9A-Fa-f]{2}|[^]/g) ?? []
  const draw = (perChar: fc.Arbitrary<string>, slash: fc.Arbitrary<string>, trailing: fc.Arbitrary<string>) =>
    fc.record({
      perChar: fc.array(perChar, { minLength: chars.length, maxLength: chars.length }),
      extraSlashes: fc.array(slash, { minLength: chars.length, maxLength: chars.length }),
      trailing,
    })
  return fc
    .oneof(
      draw(fc.constantFrom('keep', 'hex', 'HEX'), fc.constant(''), fc.constant('')),
      draw(fc.constantFrom('keep', 'keep', 'case', 'hex', 'HEX'), fc.constantFrom('', '', '/', './', 'x/../', '%2e/', '.%2E/'), fc.constantFrom('', '', '/', '/.', '%2F')),
    )
    .map(({ perChar, extraSlashes, trailing }) =>
      chars
        .map((c, i) => {
          if (c === '/') return `/${extraSlashes[i]}`
          const how = perChar[i]
          if (c.length === 3) return how === 'keep' ? c : how === 'HEX' ? c.toUpperCase() : c.toLowerCase()
          if (how === 'case') return c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()
          if (how === 'hex' || how === 'HEX') return encodeChar(c, how === 'HEX')
          return c
        })
        .join('') + trailing,
    )
}

for (const backend of BACKENDS) {
  describe(`${backend}: authentication follows the matched route, whatever the spelling of the path`, () => {
    let f: HttpFixture
    let port: number
    let protectedOps: Operation[]

    beforeAll(async () => {
      // Thousands of requests without a token from one address: about authentication, not the rate limit.
      f = await startHttpFixture(backend, { env: { HERALD_API_RATE_LIMIT: '0' } })
      expect((await f.call('POST', '/api/v1/recipients', { as: ['tenant-a', 'ADMIN'], body: { businessId: 'rcp-a', pluginId: 'RabbitMQSender', label: 'a', parameters: [{ name: 'exchange', value: 'ext.a' }], active: false } })).statusCode).toBe(201)
      await f.app.listen({ host: '127.0.0.1', port: 0 })
      port = (f.app.server.address() as AddressInfo).port
      const spec = JSON.parse((await send(port, 'GET', '/api/v1/openapi.json')).body)
      protectedOps = Object.entries(spec.paths as Record<string, Record<string, { security?: unknown[] }>>).flatMap(([template, ops]) =>
        Object.entries(ops)
          .filter(([, op]) => !(Array.isArray(op.security) && op.security.length === 0))
          .flatMap(([method]) => {
            const path = template.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(SAMPLE_PARAMS[name] ?? 'x'))
            const upper = method.toUpperCase()
            // fastify answers HEAD for every GET route: it must be protected the same way.
            return upper === 'GET' ? [{ method: upper, path }, { method: 'HEAD', path }] : [{ method: upper, path }]
          }),
      )
    })
    afterAll(async () => {
      await f?.close()
    })

    it('protects every operation of the OpenAPI document but health and metrics', () => {
      expect(protectedOps.length).toBeGreaterThanOrEqual(40)
      expect(protectedOps.every((op) => op.path.startsWith('/api/v1/'))).toBe(true)
      expect(protectedOps).toContainEqual({ method: 'POST', path: '/api/v1/rules/test' })
    })

    it('answers 401 to the canonical path and 401 or 404 to every other spelling of it, without a token', async () => {
      const seen: string[] = []
      for (const { method, path } of protectedOps) {
        const canonical = await send(port, method, path)
        expect([method, path, canonical.status]).toEqual([method, path, 401])
        for (const variant of spellingsOf(path)) {
          const { status } = await send(port, method, variant)
          seen.push(`${status}`)
          expect([method, variant, [401, 404].includes(status)]).toEqual([method, variant, true])
        }
      }
      // Both answers occur: the router decodes some spellings (401) and refuses the others (404).
      expect(new Set(seen)).toEqual(new Set(['401', '404']))
    })

    it('answers 401 or 404 to any spelling fast-check draws, never 200 and never 5xx', async () => {
      const operation = fc.integer({ min: 0, max: protectedOps.length - 1 }).chain((i) => spelling(protectedOps[i].path).map((path) => ({ method: protectedOps[i].method, path })))
      await fc.assert(
        fc.asyncProperty(operation, async ({ method, path }) => {
          const { status } = await send(port, method, path)
          expect([method, path, status]).toEqual([method, path, expect.toBeOneOf([401, 404])])
        }),
        { numRuns: 1000 },
      )
    })

    it('still serves health, metrics and the OpenAPI document without a token', async () => {
      for (const path of ['/health/live', '/health/ready', '/metrics', '/api/v1/openapi.json', '/api/v1/docs', '/%68ealth/live']) {
        expect([path, (await send(port, 'GET', path)).status]).toEqual([path, 200])
      }
    })
  })
}
