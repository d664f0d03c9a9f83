import type { Socket } from 'node:net'
import nodemailer from 'nodemailer'
import { emailAddresses, P } from '../plugins/declaration.ts'
import { isDestinationRefused, isLoopback, MAX_TIMEOUT_MS } from './outbound-network.ts'
import { receiverAnswer } from './receiver-answer.ts'
import { declareRecipient, defineSender, type DeliveryItem, type SendResult, type Sender } from './sender.ts'

export const DEFAULT_SUBJECT_TEMPLATE = '[Herald] {{metadata.action}} {{payload.id}}'
export const DEFAULT_TEXT_TEMPLATE = [
  'Notification request {{requestId}} from {{requestOwner}} (tenant {{tenant}}, {{requestDate}}).',
  '',
  'Metadata:',
  '{{metadata}}',
  '',
  'Payload:',
  '{{payload}}',
  '',
].join('\n')
const DEFAULT_TIMEOUT_MS = 30_000
// Messages sent over one connection before it is renewed: a batch of up to this many is one SMTP session.
const MESSAGES_PER_CONNECTION = 1000

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_$-]+(?:\.[A-Za-z0-9_$-]+)*)\s*\}\}/g

/**
 * Replaces each `{{path.to.field}}` with the value at that dot path in `context`: strings as they are,
 * numbers and booleans as text, objects and arrays as indented JSON, anything missing as an empty string.
 * Substitution only: no expressions, no code.
 */
export function renderTemplate(template: string, context: Record<string, unknown>): string {
  return template.replace(PLACEHOLDER, (_, path: string) => {
    let value: unknown = context
    for (const key of path.split('.')) {
      value = value !== null && typeof value === 'object' && Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined
    }
    if (value === undefined || value === null) return ''
    if (typeof value === 'object') return JSON.stringify(value, null, 2)
    return String(value)
  })
}

export function templateContext(item: DeliveryItem): Record<string, unknown> {
  return {
    requestId: item.requestId,
    requestOwner: item.requestOwner,
    requestDate: item.requestDate.toISOString(),
    tenant: item.tenant,
    payload: item.payload,
    metadata: item.metadata,
  }
}

export const EMAIL_SENDER = declareRecipient({
  pluginId: 'EmailSender',
  description: 'Mails each product through an SMTP server; delivered when the server accepted the message (250).',
  defaultDescription: 'E-mail sender',
  parameters: {
    host: P.string('SMTP server.', { label: 'SMTP host' }),
    port: P.optional(P.integer('SMTP port; unset: 465 with secure, else 587.', { label: 'Port', minimum: 1, maximum: 65535 })),
    secure: P.optional(P.boolean('TLS from the first byte (SMTPS, usually port 465).', { label: 'TLS from the start', default: false })),
    // No default value: unset means "required unless the server is on this machine", decided per connection.
    requireTLS: P.optional(
      P.boolean('Require STARTTLS before authenticating; refuse to go on in clear. Unset: required unless the server is on loopback; false turns it off.', { label: 'Require STARTTLS' }),
    ),
    tlsRejectUnauthorized: P.optional(P.boolean('false accepts a self-signed server certificate.', { label: 'Verify the certificate', default: true })),
    user: P.optional(P.string('SMTP user, given with password.', { label: 'User' })),
    password: P.optional(P.string('SMTP password, given with user; never logged nor shown in errors.', { label: 'Password', sensitive: true })),
    from: P.string('Sender address: address@domain or Name <address@domain>.', { label: 'From', format: 'email-address' }),
    to: P.string('Comma-separated recipient addresses.', { label: 'To', format: 'email-address-list' }),
    subjectTemplate: P.optional(P.string('Subject; {{path}} placeholders are replaced by the product fields.', { label: 'Subject template', default: DEFAULT_SUBJECT_TEMPLATE })),
    textTemplate: P.optional(P.string('Body; {{path}} placeholders are replaced by the product fields (default: request id, owner, tenant, date, metadata and payload).', { label: 'Text template' })),
    timeoutMs: P.optional(P.integer('Connection, greeting and socket timeouts.', { label: 'Timeout (ms)', minimum: 1, maximum: MAX_TIMEOUT_MS, default: DEFAULT_TIMEOUT_MS })),
    allowPrivateNetwork: P.optional(
      P.boolean('Allow an SMTP host on a non-public address (loopback, private, link-local…) within the ranges the instance allows (HERALD_ALLOW_PRIVATE_NETWORKS).', { label: 'Allow private network', default: false }),
    ),
  },
  checks: (values) => (Boolean(values.user) !== Boolean(values.password) ? ['parameters user and password must be given together'] : []),
})

/** Removes a secret, and the base64 forms SMTP AUTH would carry it in, from a message. */
export function redact(text: string, secrets: (string | undefined)[]): string {
  let out = text
  for (const secret of secrets) {
    if (!secret) continue
    for (const form of [secret, Buffer.from(secret).toString('base64')]) out = out.split(form).join('***')
  }
  return out
}

/**
 * SMTP reply codes decide: 5xx (535 authentication rejected, 550 mailbox unavailable…) is permanent with
 * the server's reply; 4xx and network errors are retried by the delivery policy. An error with no reply
 * code that is about the configuration (authentication, envelope, TLS) is permanent too.
 */
export function classifySmtpError(err: unknown, secrets: (string | undefined)[]): SendResult {
  const e = err as Error & { code?: string; responseCode?: number; response?: string }
  if (isDestinationRefused(e)) return { ok: false, permanent: true, errorClass: 'SMTP_DESTINATION_REFUSED', message: `refused SMTP host: ${e.message}` }
  const reply = e?.response ? redact(e.response, secrets) : undefined
  const message = redact(e?.message ?? String(err), secrets)
  if (typeof e?.responseCode === 'number') {
    const permanent = e.responseCode >= 500
    // nodemailer's message says which step failed and usually quotes the reply; the reply is kept cut and
    // cleaned (receiver-answer.ts), in the message or after it.
    const answer = reply === undefined ? undefined : receiverAnswer(reply)
    const text =
      reply === undefined || !answer ? message : message.includes(reply) ? `${message.slice(0, message.indexOf(reply))}${answer}` : `${message}; server replied ${answer}`
    // 530/534/535: the server refuses our credentials: every mail would fail alike, so the recipient is parked.
    const parkRecipient = [530, 534, 535].includes(e.responseCode)
    return { ok: false, permanent, errorClass: `SMTP_${e.responseCode}`, message: text, parkRecipient }
  }
  if (e?.code === 'EAUTH' || e?.code === 'EENVELOPE' || e?.code === 'ETLS') {
    return { ok: false, permanent: true, errorClass: `SMTP_${e.code}`, message, parkRecipient: e.code !== 'EENVELOPE' }
  }
  return { ok: false, permanent: false, errorClass: 'SMTP_NETWORK', message: `${e?.code ? `${e.code} ` : ''}${message}` }
}

interface SentInfo {
  accepted: unknown[]
  rejected: unknown[]
  rejectedErrors?: (Error & { responseCode?: number; response?: string })[]
}

/**
 * The server accepted the mail for some addresses and refused it for others: a failure naming the refused
 * ones, never a SUCCESS for a mail some recipients will not get. Retried (to every address: the stable
 * Message-ID lets the others drop the copy) unless every refusal is a 5xx, which a retry would not change.
 */
export function partialRefusal(info: SentInfo, secrets: (string | undefined)[]): SendResult {
  const errors = info.rejectedErrors ?? []
  const permanent = errors.length > 0 && errors.every((e) => typeof e.responseCode === 'number' && e.responseCode >= 500)
  const reply = errors.find((e) => e.response)?.response
  const answer = reply ? `: ${receiverAnswer(redact(reply, secrets))}` : ''
  return {
    ok: false,
    permanent,
    errorClass: 'SMTP_RECIPIENTS_REFUSED',
    message: `SMTP server refused ${info.rejected.map(String).join(', ')} (accepted ${info.accepted.map(String).join(', ')})${answer}`,
  }
}

/**
 * Mails each notification through an SMTP server (nodemailer). The pooled transport is created once per
 * sender and keeps a single connection, so a batch is one SMTP session carrying many messages; it is
 * closed with the sender. A delivery is done when the server accepted the message (250) for every address.
 */
export const emailSender = defineSender({
  declaration: EMAIL_SENDER,
  create(values, ctx): Sender {
    const { secure = false, timeoutMs = DEFAULT_TIMEOUT_MS, user, password, host, allowPrivateNetwork = false, requireTLS } = values
    const port = values.port ?? (secure ? 465 : 587)
    const secrets = [password]
    const transport = nodemailer.createTransport({
      pool: true,
      maxConnections: 1,
      maxMessages: MESSAGES_PER_CONNECTION,
      host,
      port,
      secure,
      // Herald opens the connection itself, under the instance's address policy, to the address it checked;
      // STARTTLS is required unless that address is loopback or the recipient says requireTLS=false.
      getSocket: (_options: unknown, callback: (err: Error | null, socketOptions?: { connection: Socket; requireTLS: boolean }) => void) => {
        ctx.network.connect(host, port, allowPrivateNetwork, timeoutMs).then(
          (socket) => callback(null, { connection: socket, requireTLS: requireTLS ?? !isLoopback(socket.remoteAddress) }),
          (err: Error) => callback(err),
        )
      },
      auth: user ? { user, pass: password } : undefined,
      tls: { rejectUnauthorized: values.tlsRejectUnauthorized },
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      logger: false,
    })
    const from = values.from
    const to = emailAddresses(values.to)
    const subjectTemplate = values.subjectTemplate ?? DEFAULT_SUBJECT_TEMPLATE
    const textTemplate = values.textTemplate ?? DEFAULT_TEXT_TEMPLATE

    async function mail(item: DeliveryItem): Promise<SendResult> {
      const context = templateContext(item)
      try {
        const info = await transport.sendMail({
          from,
          to,
          // A subject is one header line: a newline from a product field must not start another header.
          subject: renderTemplate(subjectTemplate, context).replace(/[\r\n]+/g, ' ').trim(),
          text: renderTemplate(textTemplate, context),
          headers: { 'X-Herald-Request-Id': item.requestId },
          // Stable across attempts, so a receiver can drop a duplicate after a lost 250.
          messageId: `<herald-${item.deliveryId}@${from.split('@').pop()!.replace(/>$/, '')}>`,
        })
        return info.rejected.length > 0 ? partialRefusal(info, secrets) : { ok: true, answer: receiverAnswer(redact(info.response, secrets)) }
      } catch (err) {
        return classifySmtpError(err, secrets)
      }
    }

    return {
      send: (items) => Promise.all(items.map(mail)),
      close: async () => transport.close(),
    }
  },
})
