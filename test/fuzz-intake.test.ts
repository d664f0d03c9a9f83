import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import { Connection, type Consumer } from 'rabbitmq-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dedicatedDlq, NOTIFICATION_REQUEST_EXCHANGE, NOTIFICATION_REQUEST_QUEUE, NOTIFIER_EVENT_EXCHANGE } from '../src/amqp/topology.ts'
import { spawnHerald, waitConsumers, type HeraldProcess } from './support/herald-process.ts'
import { prepareFaultStorage } from './support/ledger.ts'
import { createTestStorage, createVhost, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const MESSAGES = 300
const TENANT = 'fuzz'
const MAX_MESSAGE_BYTES = 100_000
// FUZZ_SEED=<n> replays a run: the seed is in the test's name and output.
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31)

/** A message as generated: the headers and body to publish, and the fuzz id that follows it into the DLQ. */
interface FuzzMessage {
  fuzzId: string
  headers: Record<string, unknown>
  body: Buffer
}

type Outcome = 'dead-lettered' | 'DENIED' | 'GRANTED' | 'no answer'

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** A body REGARDS can use: UTF-8 JSON within the size limit, an object with a payload object and, if any, a metadata object. */
function isRequestBody(body: Buffer): boolean {
  if (body.length === 0 || body.length > MAX_MESSAGE_BYTES) return false
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body))
  } catch {
    return false
  }
  return isObject(value) && isObject(value.payload) && (value.metadata === undefined || value.metadata === null || isObject(value.metadata))
}

/**
 * What Herald must answer, worked out from the message as generated: without a tenant or a request id there
 * is no one to answer (dead letter); a request id over 36 characters, an owner over 128, a date that is not an
 * ISO-8601 date-time or an unusable body (an empty one included: every request id here is new) is DENIED;
 * the rest is GRANTED. The dates generated are toISOString() forms or random text, which no ISO-8601 form matches.
 */
function expectedOutcome(headers: Record<string, unknown>, body: Buffer): Outcome {
  const header = (name: string) => (headers[name] === undefined ? undefined : String(headers[name]))
  if (!header('regards.tenant')?.trim() || !header('regards.request.id')?.trim()) return 'dead-lettered'
  if (header('regards.request.id')!.length > 36 || (header('regards.request.owner')?.length ?? 0) > 128) return 'DENIED'
  const date = header('regards.request.date')?.trim()
  if (date && !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(date)) return 'DENIED'
  return isRequestBody(body) ? 'GRANTED' : 'DENIED'
}

const headerValue = fc.oneof(fc.string({ maxLength: 40 }), fc.integer(), fc.boolean(), fc.constant(''))
const requestId = fc.oneof(
  { weight: 6, arbitrary: fc.constant('uuid') },
  { weight: 1, arbitrary: fc.constant('long') }, // > 36 characters: DENIED
  { weight: 1, arbitrary: fc.constant('missing') },
  { weight: 1, arbitrary: fc.constant('blank') },
  { weight: 1, arbitrary: fc.integer().map(String) },
)
const body = fc.oneof(
  fc.constant('valid').map(() => Buffer.from(JSON.stringify({ payload: { id: 'x', properties: { is_valid: true } }, metadata: { action: 'CREATED' } }))),
  fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v))),
  fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)), // mostly invalid UTF-8 and not JSON
  fc.string({ maxLength: 200 }).map((s) => Buffer.from(s, 'utf8')),
  fc.constant(Buffer.alloc(0)),
  fc.integer({ min: 120_000, max: 300_000 }).map((n) => Buffer.from(JSON.stringify({ payload: { pad: 'x'.repeat(n) }, metadata: {} }))), // over the limit
)
const message: fc.Arbitrary<Omit<FuzzMessage, 'fuzzId'> & { idKind: string }> = fc
  .record({
    tenant: fc.oneof({ weight: 8, arbitrary: fc.constant(TENANT) }, { weight: 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: headerValue }),
    idKind: requestId,
    owner: fc.oneof(fc.constant(undefined), fc.string({ maxLength: 20 }), fc.string({ minLength: 129, maxLength: 200 })),
    date: fc.oneof(fc.constant(undefined), fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.string({ maxLength: 30 })),
    extra: fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), headerValue, { maxKeys: 4 }),
    body,
  })
  .map(({ tenant, idKind, owner, date, extra, body }) => {
    const headers: Record<string, unknown> = { ...extra }
    if (tenant !== undefined) headers['regards.tenant'] = tenant
    if (owner !== undefined) headers['regards.request.owner'] = owner
    if (date !== undefined) headers['regards.request.date'] = date
    return { headers, body, idKind }
  })

describe('postgres: fuzzed AMQP messages at the notifier intake', () => {
  let vhost: Awaited<ReturnType<typeof createVhost>>
  let storage: TestStorage
  let herald: HeraldProcess
  let rabbit: Connection
  const consumers: Consumer[] = []
  const answered = new Map<string, string[]>() // request id → states
  const deadLettered = new Map<string, string>() // fuzz id → x-exception-message

  beforeAll(async () => {
    vhost = await createVhost()
    storage = await createTestStorage('postgres')
    await prepareFaultStorage(storage, { tenant: TENANT })
    herald = spawnHerald({ amqpUrl: vhost.url, storage, env: { HERALD_MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES), HERALD_LOG_LEVEL: 'fatal' } })
    rabbit = new Connection({ url: vhost.url, noDelay: true })
    rabbit.on('error', () => {})
    await waitConsumers(vhost.url, NOTIFICATION_REQUEST_QUEUE, 1)
    const events = `fuzz.events.${randomUUID()}`
    await rabbit.exchangeDeclare({ exchange: NOTIFIER_EVENT_EXCHANGE, type: 'fanout', durable: true })
    const onEvent = rabbit.createConsumer(
      { queue: events, queueOptions: { exclusive: true }, queueBindings: [{ queue: events, exchange: NOTIFIER_EVENT_EXCHANGE }], noAck: true },
      (msg) => {
        const b = JSON.parse((msg.body as Buffer).toString('utf8'))
        answered.set(String(b.requestId), [...(answered.get(String(b.requestId)) ?? []), b.state])
      },
    )
    const onDead = rabbit.createConsumer({ queue: dedicatedDlq(NOTIFICATION_REQUEST_QUEUE), queueOptions: { passive: true }, noAck: true }, (msg) => {
      deadLettered.set(String(msg.headers?.['x-fuzz-id']), String(msg.headers?.['x-exception-message'] ?? ''))
    })
    consumers.push(onEvent, onDead)
    // Both listened to at once: a 'ready' emitted while waiting for the other would be missed.
    await Promise.all([onEvent, onDead].map((c) => new Promise<void>((r) => c.once('ready', () => r()))))
  }, 60_000)

  afterAll(async () => {
    for (const c of consumers) await c.close()
    await rabbit?.close()
    await herald?.kill()
    await storage?.drop()
    await vhost?.drop()
  }, 30_000)

  it(`answers or dead-letters each of ${MESSAGES} random messages as expected, and never crashes (seed ${SEED})`, async () => {
    console.log(`fuzz seed ${SEED}: FUZZ_SEED=${SEED} npx vitest run test/fuzz-intake.test.ts replays it`)
    const generated = fc.sample(message, { numRuns: MESSAGES, seed: SEED })
    const publisher = rabbit.createPublisher({ confirm: true })
    const sent: (FuzzMessage & { requestId?: string })[] = []
    for (const m of generated) {
      const fuzzId = randomUUID()
      const headers: Record<string, unknown> = { ...m.headers, 'x-fuzz-id': fuzzId }
      let requestId: string | undefined
      if (m.idKind === 'uuid') requestId = randomUUID()
      else if (m.idKind === 'long') requestId = `${randomUUID()}-${randomUUID()}`
      else if (m.idKind === 'blank') requestId = '  '
      else if (m.idKind !== 'missing') requestId = `${m.idKind}-${randomUUID().slice(0, 8)}`
      if (requestId !== undefined) headers['regards.request.id'] = requestId
      sent.push({ fuzzId, headers, body: m.body, requestId })
    }
    await Promise.all(
      sent.map((m) =>
        publisher.send({ exchange: NOTIFICATION_REQUEST_EXCHANGE, headers: m.headers, priority: 1, durable: true, contentType: 'application/json' }, m.body),
      ),
    )
    await publisher.close()

    const outcome = (m: (typeof sent)[number]): Outcome =>
      deadLettered.has(m.fuzzId) ? 'dead-lettered' : ((m.requestId !== undefined && (answered.get(m.requestId)?.[0] as Outcome)) || 'no answer')
    // A message still without an answer after the wait shows in the comparison below.
    await waitFor(() => sent.every((m) => outcome(m) !== 'no answer'), 'every message answered or dead-lettered', { timeoutMs: 45_000, pollMs: 200 }).catch(() => {})
    // Late answers (a DENIED after a GRANTED) would arrive now.
    await new Promise((r) => setTimeout(r, 1000))

    const counts = new Map<Outcome, number>()
    for (const m of sent) counts.set(outcome(m), (counts.get(outcome(m)) ?? 0) + 1)
    console.log(`seed ${SEED}: ${sent.length} messages, ${JSON.stringify(Object.fromEntries(counts))}`)
    const unexpected = sent
      .filter((m) => outcome(m) !== expectedOutcome(m.headers, m.body))
      .map((m) => ({ expected: expectedOutcome(m.headers, m.body), got: outcome(m), states: answered.get(m.requestId ?? ''), headers: m.headers, body: m.body.subarray(0, 80).toString('hex') }))
    expect(unexpected).toEqual([])
    // Each outcome occurs: a generator that stopped producing one kind of message would go unnoticed otherwise.
    expect([...counts.keys()].sort()).toEqual(['DENIED', 'GRANTED', 'dead-lettered'])
    // A dead letter always says why.
    for (const reason of deadLettered.values()) expect(reason).not.toBe('')
    // An answer is never both DENIED and GRANTED.
    for (const states of answered.values()) expect(states.includes('DENIED') && states.includes('GRANTED')).toBe(false)
    expect(herald.child.exitCode).toBeNull()
    expect(herald.child.signalCode).toBeNull()
  }, 90_000)
})
