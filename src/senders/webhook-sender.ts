import { createHmac } from 'node:crypto'
import { Agent, request } from 'undici'
import { P, type ParameterValues } from '../plugins/declaration.ts'
import { isDestinationRefused, MAX_TIMEOUT_MS } from './outbound-network.ts'
import { DEFAULT_POLICY } from './policy.ts'
import { receiverAnswer } from './receiver-answer.ts'
import { primitiveText } from './session-name.ts'
import { declareRecipient, defineSender, type DeliveryItem, type SendResult, type Sender } from './sender.ts'

const DEFAULT_TIMEOUT_MS = 10_000
// Items of one batch in flight at once: enough to hide a 50 ms round trip behind a 200-item batch
// (200 / 16 × 50 ms ≈ 0.6 s) without opening more sockets than a small receiver accepts.
const CONCURRENCY = 16
const MAX_RESPONSE_BYTES = 64 * 1024
// A Retry-After beyond a day is taken as a day: the policy's own backoff still applies on top.
const MAX_RETRY_AFTER_MS = 24 * 3600_000
const BODY_TEMPLATES = ['default', 'cloudevents', 'cnm'] as const
type BodyTemplate = (typeof BODY_TEMPLATES)[number]

export const WEBHOOK_SENDER = declareRecipient({
  pluginId: 'WebhookSender',
  description: 'POSTs each notification to an HTTP endpoint, signed per Standard Webhooks; delivered on a 2xx answer.',
  defaultDescription: 'Webhook sender',
  parameters: {
    url: P.string('URL to POST to; redirects are not followed.', { label: 'URL', format: 'http-url' }),
    secrets: P.optional(
      P.stringOrList('Signing secrets, comma-separated or a JSON array: whsec_<base64> (Standard Webhooks) or any text; several give several signatures, for key rotation.', { label: 'Signing secrets', sensitive: true }),
    ),
    timeoutMs: P.optional(P.integer('Connect, response headers and body timeout, and the limit of one request as a whole.', { label: 'Timeout (ms)', minimum: 1, maximum: MAX_TIMEOUT_MS, default: DEFAULT_TIMEOUT_MS })),
    allowPrivateNetwork: P.optional(
      P.boolean('Allow a non-public destination (loopback, private, link-local…) within the ranges the instance allows (HERALD_ALLOW_PRIVATE_NETWORKS).', { label: 'Allow private network', default: false }),
    ),
    bodyTemplate: P.optional(P.oneOf(BODY_TEMPLATES, 'Body: default, cloudevents (CloudEvents 1.0) or cnm (NASA Cumulus Message 1.6).', { label: 'Body template', default: 'default' })),
    cnmProvider: P.optional(P.string('CNM provider (bodyTemplate cnm); unset: the request owner, else herald.', { label: 'CNM provider' })),
    cnmCollection: P.optional(P.string('CNM collection (bodyTemplate cnm); unset: the feature model.', { label: 'CNM collection' })),
  },
  checks: (values) => {
    const secrets = parseSecrets(values.secrets)
    return 'error' in secrets ? [secrets.error] : []
  },
})

type WebhookValues = ParameterValues<typeof WEBHOOK_SENDER>

// ---------------------------------------------------------------- Standard Webhooks signature

/**
 * The signing keys of parameter `secrets`: a comma-separated list or a JSON array, so a key can be
 * rotated by listing the new one next to the old one. `whsec_<base64>` is the Standard Webhooks form
 * (the key is the decoded bytes); any other string is used as its UTF-8 bytes. Errors never quote a secret.
 */
export function parseSecrets(value: unknown): { keys: Buffer[] } | { error: string } {
  if (value === undefined || value === null || value === '') return { keys: [] }
  let list: unknown[]
  if (Array.isArray(value)) list = value
  else if (typeof value === 'string' && value.trim().startsWith('[')) {
    try {
      const parsed = JSON.parse(value)
      if (!Array.isArray(parsed)) return { error: 'parameter secrets: a JSON value must be an array of strings' }
      list = parsed
    } catch {
      return { error: 'parameter secrets: starts with "[" but is not a JSON array' }
    }
  } else if (typeof value === 'string') list = value.split(',')
  else return { error: 'parameter secrets must be a comma-separated list or a JSON array of strings' }
  const keys: Buffer[] = []
  for (const [i, entry] of list.entries()) {
    if (typeof entry !== 'string') return { error: `parameter secrets: entry ${i + 1} is not a string` }
    const secret = entry.trim()
    if (secret === '') continue
    if (secret.startsWith('whsec_')) {
      const b64 = secret.slice('whsec_'.length)
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 === 1) return { error: `parameter secrets: entry ${i + 1} starts with whsec_ but is not valid base64` }
      keys.push(Buffer.from(b64, 'base64'))
    } else {
      keys.push(Buffer.from(secret, 'utf8'))
    }
  }
  if (keys.length === 0) return { error: 'parameter secrets is set but lists no secret' }
  return { keys }
}

/** `webhook-signature`: `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` per key, space-separated. */
export function webhookSignature(id: string, timestamp: number, body: string, keys: Buffer[]): string {
  return keys.map((key) => `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`).join(' ')
}

// ---------------------------------------------------------------- destinations

/** The URL without credentials nor query string, fit for logs and error messages. */
export function displayUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`
}

// ---------------------------------------------------------------- bodies

export interface WebhookBody {
  contentType: string
  body: string
}

/**
 * NASA Cumulus Message (CNM 1.6) from a REGARDS GeoJSON feature:
 * provider = parameter cnmProvider, else the request owner, else `herald`; collection = parameter
 * cnmCollection, else the feature's `model`; identifier = the request id; submissionTime = request date;
 * product.name = feature `id`; product.dataVersion = the URN version (`V3` → "3"), else "1";
 * product.files[] from feature `files[]`: type from attributes.dataType (RAWDATA/OTHER/ZIP → data,
 * QUICKLOOK_* and THUMBNAIL → browse, DESCRIPTION/AIP → metadata, DOCUMENT → ancillary), uri = first
 * location url, name = filename, checksumType = algorithm in lower case without dashes, checksum, size = filesize.
 */
export function cnmMessage(item: DeliveryItem, values: Pick<WebhookValues, 'cnmProvider' | 'cnmCollection'>): Record<string, unknown> | { error: string } {
  const p = item.payload
  const collection = values.cnmCollection ?? primitiveText(p.model)
  if (!collection) return { error: 'CNM body needs a collection: set parameter cnmCollection or notify features that have a model' }
  const version = /:V(\d{1,3})(,\d+)?(:REV.+)?$/.exec(primitiveText(p.urn) ?? '')?.[1]
  const files = (Array.isArray(p.files) ? p.files : []).map((file: any) => {
    const a = file?.attributes ?? {}
    const dataType = String(a.dataType ?? '')
    const type = /^(QUICKLOOK_|THUMBNAIL)/.test(dataType) ? 'browse' : dataType === 'DESCRIPTION' || dataType === 'AIP' ? 'metadata' : dataType === 'DOCUMENT' ? 'ancillary' : 'data'
    return {
      type,
      uri: primitiveText(file?.locations?.[0]?.url),
      name: primitiveText(a.filename),
      checksumType: typeof a.algorithm === 'string' ? a.algorithm.toLowerCase().replace(/-/g, '') : undefined,
      checksum: primitiveText(a.checksum),
      size: typeof a.filesize === 'number' ? a.filesize : undefined,
    }
  })
  return {
    version: '1.6.0',
    provider: values.cnmProvider ?? item.requestOwner ?? 'herald',
    collection,
    identifier: item.requestId,
    submissionTime: item.requestDate.toISOString(),
    product: { name: primitiveText(p.id), dataVersion: version ?? '1', files },
  }
}

export function webhookBody(template: BodyTemplate, item: DeliveryItem, webhookId: string, values: Pick<WebhookValues, 'cnmProvider' | 'cnmCollection'>): WebhookBody | { error: string } {
  if (template === 'cloudevents') {
    const subject = primitiveText(item.payload.urn) ?? primitiveText(item.payload.id)
    return {
      contentType: 'application/cloudevents+json; charset=utf-8',
      body: JSON.stringify({
        specversion: '1.0',
        id: webhookId,
        source: `herald/${item.tenant}`,
        type: 'fr.cnes.regards.notification',
        subject,
        time: item.requestDate.toISOString(),
        datacontenttype: 'application/json',
        requestid: item.requestId,
        data: { payload: item.payload, metadata: item.metadata },
      }),
    }
  }
  if (template === 'cnm') {
    const message = cnmMessage(item, values)
    return 'error' in message && typeof message.error === 'string' ? { error: message.error } : { contentType: 'application/json', body: JSON.stringify(message) }
  }
  return {
    contentType: 'application/json',
    body: JSON.stringify({
      requestId: item.requestId,
      requestOwner: item.requestOwner,
      requestDate: item.requestDate.toISOString(),
      payload: item.payload,
      metadata: item.metadata,
    }),
  }
}

// ---------------------------------------------------------------- responses

/** Milliseconds to wait from a Retry-After header (delay in seconds or HTTP date); undefined when absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim()
  if (!value) return undefined
  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - now
  return Number.isFinite(ms) ? Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms)) : undefined
}

/** Reads at most MAX_RESPONSE_BYTES of a response body, then drops the rest. */
async function readCapped(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    chunks.push(chunk)
    size += chunk.length
    if (size >= MAX_RESPONSE_BYTES) {
      body.destroy()
      break
    }
  }
  return Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BYTES).toString('utf8')
}

function networkFailure(err: unknown, target: string, timeoutMs: number): SendResult {
  const e = err as Error & { code?: string; cause?: { code?: string; message?: string } }
  const code = e?.code ?? e?.cause?.code
  if (isDestinationRefused(e)) {
    return { ok: false, permanent: true, errorClass: 'HTTP_DESTINATION_REFUSED', message: `refused destination ${target}: ${e.message}` }
  }
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError' || /TIMEOUT/.test(code ?? '')) {
    return { ok: false, permanent: false, errorClass: 'HTTP_TIMEOUT', message: `no answer from ${target} within ${timeoutMs} ms` }
  }
  return { ok: false, permanent: false, errorClass: 'HTTP_NETWORK', message: `${target}: ${code ? `${code} ` : ''}${e?.message ?? String(err)}` }
}

// ---------------------------------------------------------------- the plugin

/**
 * POSTs each notification to an HTTP endpoint, signed per Standard Webhooks (`webhook-id`, stable across
 * retries, `webhook-timestamp`, `webhook-signature`). 2xx is delivered; 408, 429, 5xx and network errors
 * are retried by the delivery policy (honouring Retry-After); redirects and other 4xx are permanent.
 * Non-public destinations are refused unless `allowPrivateNetwork` is true and the instance allows their
 * range (outbound-network.ts).
 */
export const webhookSender = defineSender({
  declaration: WEBHOOK_SENDER,
  create(values, ctx): Sender {
    const url = new URL(values.url)
    const target = displayUrl(url)
    const secrets = parseSecrets(values.secrets)
    const keys = 'keys' in secrets ? secrets.keys : []
    const { timeoutMs = DEFAULT_TIMEOUT_MS, allowPrivateNetwork: allowPrivate = false } = values
    const template: BodyTemplate = values.bodyTemplate ?? 'default'
    const literalRefusal = ctx.network.literalRefusal(url.hostname, allowPrivate)
    // One pooled agent per sender: a batch reuses its keep-alive connections. Each batch in flight has its
    // own lanes: with `connections: 16` alone, 4 batches shared 16 sockets (measured by bench/senders.ts).
    const batchesInFlight = values.maxBatchesInFlight ?? DEFAULT_POLICY.maxBatchesInFlight
    const agent = new Agent({
      connections: CONCURRENCY * batchesInFlight,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      connect: { timeout: timeoutMs, lookup: ctx.network.lookup(allowPrivate) },
    })

    async function post(item: DeliveryItem): Promise<SendResult> {
      const webhookId = `herald-${item.deliveryId}`
      const built = webhookBody(template, item, webhookId, values)
      if ('error' in built) return { ok: false, permanent: true, errorClass: 'WEBHOOK_BODY', message: built.error }
      if (literalRefusal) return { ok: false, permanent: true, errorClass: 'HTTP_DESTINATION_REFUSED', message: `refused destination ${target}: ${literalRefusal}` }
      const timestamp = Math.floor(Date.now() / 1000)
      const headers: Record<string, string> = {
        'content-type': built.contentType,
        'user-agent': 'Herald-Webhook/1',
        'webhook-id': webhookId,
        'webhook-timestamp': String(timestamp),
      }
      if (keys.length > 0) headers['webhook-signature'] = webhookSignature(webhookId, timestamp, built.body, keys)
      let response: Awaited<ReturnType<typeof request>>
      try {
        response = await request(url, { method: 'POST', dispatcher: agent, headers, body: built.body, signal: AbortSignal.timeout(timeoutMs) })
      } catch (err) {
        return networkFailure(err, target, timeoutMs)
      }
      const status = response.statusCode
      let text: string
      try {
        text = status >= 200 && status < 300 ? (await response.body.dump({ limit: MAX_RESPONSE_BYTES }), '') : await readCapped(response.body)
      } catch (err) {
        // The status line is the answer: a body cut short does not change it.
        text = ''
        if (status < 200 || status >= 300) ctx.log.debug({ err, target }, 'webhook response body unreadable')
      }
      if (status >= 200 && status < 300) return { ok: true, answer: `HTTP ${status}` }
      if (status >= 300 && status < 400) {
        const location = response.headers.location
        return { ok: false, permanent: true, errorClass: 'HTTP_REDIRECT', message: `${target} answered ${status} redirecting to ${location ?? '(no Location)'}: redirects are not followed, configure the final URL` }
      }
      const retryable = status === 408 || status === 429 || status >= 500
      const answer = receiverAnswer(text)
      const message = `${target} answered HTTP ${status}${answer ? `: ${answer}` : ''}`
      return retryable
        ? { ok: false, permanent: false, errorClass: `HTTP_${status}`, message, retryAfterMs: retryAfterMs(response.headers['retry-after']) }
        : // 401/403: the endpoint refuses Herald itself, not this product: park the recipient.
          { ok: false, permanent: true, errorClass: `HTTP_${status}`, message, parkRecipient: status === 401 || status === 403 }
    }

    return {
      async send(items: DeliveryItem[]): Promise<SendResult[]> {
        const results: SendResult[] = new Array(items.length)
        let next = 0
        const lane = async () => {
          while (next < items.length) {
            const i = next++
            results[i] = await post(items[i]).catch((err) => networkFailure(err, target, timeoutMs))
          }
        }
        await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, lane))
        return results
      },
      close: () => agent.close(),
    }
  },
})
