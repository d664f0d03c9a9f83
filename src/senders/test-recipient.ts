import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { Db } from '../db/client.ts'
import type { SecretBox } from '../secrets/secret-box.ts'
import { openParameters } from '../secrets/secret-parameters.ts'
import { SENDER_PLUGINS } from './registry.ts'
import { parametersToMap, type DeliveryItem, type PluginParameter, type SendResult, type SenderContext } from './sender.ts'
import { ERR_NOT_FOUND } from '../errors.ts'
import { findPlugin } from '../notifier/plugin-configurations.ts'
import { createSender } from './sender-context.ts'

/** A product to send: given by the operator, else {@link sampleProduct}. */
export interface SampleInput {
  payload?: Record<string, unknown>
  metadata?: Record<string, unknown>
}

/** What one test send gave. */
export interface RecipientTestOutcome {
  businessId: string
  pluginId: string
  delivered: boolean
  /** From handing the product to the sender to its answer. */
  latencyMs: number
  /** The receiver's status (`HTTP 204`), the SMTP server's reply, the broker's confirm. */
  answer?: string
  /** As in delivery attempts: `HTTP_503`, `SMTP_535`, `AMQP_UNROUTABLE`, `CONFIGURATION` … */
  errorClass?: string
  message?: string
  /** A failure the delivery policy would not retry. */
  permanent?: boolean
  sample: 'given' | 'built-in'
}

// Longer than every sender's own timeout (webhook 10 s, SMTP 30 s by default): a test never hangs the caller.
const TEST_TIMEOUT_MS = 60_000

/**
 * A GeoJSON feature every sender can take: a URN (DisseminationAckSender), files with a location (LTA,
 * CNM), a model, and session metadata (worker manager, LTA).
 */
export function sampleProduct(tenant: string): Required<SampleInput> {
  return {
    payload: {
      type: 'Feature',
      id: 'herald-test-product',
      urn: `URN:FEATURE:DATA:${tenant}:${randomUUID()}:V1`,
      model: 'HERALD_TEST',
      geometry: null,
      properties: { test: true, description: 'Sample product sent by herald recipients test' },
      files: [
        {
          locations: [{ storage: 'herald-test', url: 'https://example.org/herald-test-product.dat' }],
          attributes: { dataType: 'RAWDATA', filename: 'herald-test-product.dat', mimeType: 'application/octet-stream', filesize: 0, algorithm: 'MD5', checksum: 'd41d8cd98f00b204e9800998ecf8427e' },
        },
      ],
    },
    metadata: { action: 'CREATED', sessionOwner: 'herald-test', session: 'recipient-test' },
  }
}

// Negative delivery ids never name a stored delivery: webhook ids, message ids and Message-IDs of a test
// (`herald--<n>`) cannot be taken by a receiver for a real delivery it already has.
let lastTestId = 0
const testDeliveryId = () => -(lastTestId = Math.max(lastTestId + 1, Date.now()))

/**
 * Sends one product to a recipient through its real sender, whatever its state (inactive, parked), and
 * records nothing: no request, no delivery, no attempt. Only the recipient sees it.
 *
 * @example await testRecipient(db, secrets, { broker, log }, 'project1', 'partner-hook', {}) // { delivered: true, answer: 'HTTP 204', latencyMs: 12, … }
 */
export async function testRecipient(db: Db, secrets: SecretBox, ctx: SenderContext, tenant: string, businessId: string, input: SampleInput): Promise<RecipientTestOutcome> {
  const row = await findPlugin(db, tenant, 'RECIPIENT', businessId)
  if (!row) throw ERR_NOT_FOUND(`no recipient ${businessId}`)
  const given = input.payload !== undefined || input.metadata !== undefined
  const sample = sampleProduct(tenant)
  const base = { businessId, pluginId: row.plugin_id, sample: given ? ('given' as const) : ('built-in' as const) }
  const plugin = SENDER_PLUGINS.get(row.plugin_id)
  if (!plugin) return { ...base, delivered: false, latencyMs: 0, errorClass: 'CONFIGURATION', message: `unknown plugin ${row.plugin_id}`, permanent: true }
  const item: DeliveryItem = {
    deliveryId: testDeliveryId(),
    tenant,
    requestId: randomUUID(),
    requestOwner: 'herald-test',
    requestDate: new Date(),
    payload: input.payload ?? (given ? {} : sample.payload),
    metadata: input.metadata ?? (given ? {} : sample.metadata),
    attempt: 1,
  }
  let parameters: PluginParameter[]
  try {
    parameters = openParameters(secrets, { tenant, businessId, pluginId: row.plugin_id }, row.parameters)
  } catch (err) {
    return { ...base, delivered: false, latencyMs: 0, errorClass: 'CONFIGURATION', message: (err as Error).message, permanent: true }
  }
  const sender = createSender(plugin, parametersToMap(parameters), ctx)
  const started = performance.now()
  let timer: NodeJS.Timeout | undefined
  try {
    const timeout = new Promise<SendResult>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, permanent: false, errorClass: 'TEST_TIMEOUT', message: `no answer within ${TEST_TIMEOUT_MS / 1000} s` }), TEST_TIMEOUT_MS)
    })
    const result = await Promise.race([sender.send([item]).then((results) => results[0]), timeout]).catch(
      (err: Error): SendResult => ({ ok: false, permanent: false, errorClass: 'SEND_FAILED', message: err.message }),
    )
    const latencyMs = Math.round((performance.now() - started) * 10) / 10
    return result.ok
      ? { ...base, delivered: true, latencyMs, ...(result.answer ? { answer: result.answer } : {}) }
      : { ...base, delivered: false, latencyMs, errorClass: result.errorClass, message: result.message, permanent: result.permanent }
  } finally {
    clearTimeout(timer)
    await sender.close?.().catch((err: Error) => ctx.log.warn({ err }, 'closing the test sender failed'))
  }
}
