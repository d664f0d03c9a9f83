import { sql } from 'kysely'
import { randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser'
import { SMTPServer } from 'smtp-server'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Herald } from '../src/main.ts'
import { classifySmtpError, emailSender, renderTemplate } from '../src/senders/email-sender.ts'
import type { DeliveryItem, Parameters as SenderParams, Sender, SenderContext } from '../src/senders/sender.ts'
import { RegardsClient } from './support/amqp-client.ts'
import { association, importConfig, pluginConf, startTestHerald } from './support/herald.ts'
import { deliveryItem, testSenderContext } from './support/sender-rig.ts'
import { createTestStorage, createVhost, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'project1'
const USER = 'herald'
const PASSWORD = 's3cret-Pa55word'
const ctx = testSenderContext()

const item = (over: Partial<DeliveryItem> = {}): DeliveryItem =>
  deliveryItem({
    tenant: TENANT,
    requestDate: new Date('2026-11-22T10:00:00.000Z'),
    payload: { type: 'Feature', id: `product-${randomUUID().slice(0, 8)}`, properties: { type: 'L2', nested: { level: 3 } } },
    metadata: { action: 'CREATED', session: 's1' },
    ...over,
  })

/** An SMTP server on 127.0.0.1:0 requiring authentication, parsing every mail it accepts. */
async function smtpServer(opts: { rejectRcpt?: (address: string) => number | undefined; starttls?: boolean } = {}) {
  const mails: ParsedMail[] = []
  const envelopes: string[][] = []
  let connections = 0
  const server = new SMTPServer({
    authOptional: false,
    allowInsecureAuth: true,
    // With STARTTLS, smtp-server presents its built-in self-signed (and expired) certificate.
    disabledCommands: opts.starttls ? [] : ['STARTTLS'],
    logger: false,
    onConnect(_session, callback) {
      connections++
      callback()
    },
    onAuth(auth, _session, callback) {
      if (auth.username === USER && auth.password === PASSWORD) return callback(null, { user: USER })
      callback(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }))
    },
    onRcptTo(address, _session, callback) {
      const code = opts.rejectRcpt?.(address.address)
      if (code) return callback(Object.assign(new Error(code >= 500 ? `Mailbox ${address.address} unavailable` : 'Mailbox busy, try again later'), { responseCode: code }))
      callback()
    },
    onData(stream, session, callback) {
      envelopes.push(session.envelope.rcptTo.map((r) => r.address))
      simpleParser(stream).then(
        (mail) => {
          mails.push(mail)
          callback()
        },
        (err) => callback(err),
      )
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.server.address() as AddressInfo).port
  return { port, mails, envelopes, connections: () => connections, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

const addresses = (a: AddressObject | AddressObject[] | undefined) => (Array.isArray(a) ? a : a ? [a] : []).flatMap((x) => x.value.map((v) => v.address))

const senders: Sender[] = []
const servers: { close(): Promise<void> }[] = []
function sender(params: SenderParams): Sender {
  expect(emailSender.validate(params)).toEqual([])
  const s = emailSender.create(params, ctx)
  senders.push(s)
  return s
}
async function server(opts?: Parameters<typeof smtpServer>[0]) {
  const s = await smtpServer(opts)
  servers.push(s)
  return s
}
const smtpParams = (port: number, extra: SenderParams = {}): SenderParams => ({
  host: '127.0.0.1',
  port,
  allowPrivateNetwork: true,
  user: USER,
  password: PASSWORD,
  from: 'Herald <herald@example.org>',
  to: 'ops@example.org, archive@example.org',
  ...extra,
})

afterEach(async () => {
  for (const s of senders.splice(0)) await s.close?.()
  for (const s of servers.splice(0)) await s.close()
})

describe('EmailSender', () => {
  it('mails each notification with the default subject and a JSON dump of the product', async () => {
    const smtp = await server()
    const it1 = item()
    expect(await sender(smtpParams(smtp.port)).send([it1])).toMatchObject([{ ok: true }])
    expect(smtp.mails).toHaveLength(1)
    const [mail] = smtp.mails
    expect(mail.subject).toBe(`[Herald] CREATED ${it1.payload.id}`)
    expect(addresses(mail.to)).toEqual(['ops@example.org', 'archive@example.org'])
    expect(addresses(mail.from)).toEqual(['herald@example.org'])
    expect(smtp.envelopes[0]).toEqual(['ops@example.org', 'archive@example.org'])
    expect(mail.headers.get('x-herald-request-id')).toBe(it1.requestId)
    expect(mail.text).toContain(`Notification request ${it1.requestId} from rs-fem (tenant ${TENANT}, 2026-11-22T10:00:00.000Z).`)
    expect(mail.text).toContain(JSON.stringify(it1.payload, null, 2))
    expect(mail.text).toContain('"action": "CREATED"')
  })

  it('renders subjectTemplate and textTemplate, a missing field giving an empty string', async () => {
    const smtp = await server()
    const it1 = item()
    const s = sender(
      smtpParams(smtp.port, {
        subjectTemplate: '{{tenant}}: {{payload.properties.type}} level {{ payload.properties.nested.level }}{{payload.nope}}',
        textTemplate: 'Product {{payload.id}} ({{metadata.session}}){{metadata.missing.deeper}} by {{requestOwner}}',
      }),
    )
    expect(await s.send([it1])).toMatchObject([{ ok: true }])
    expect(smtp.mails[0].subject).toBe(`${TENANT}: L2 level 3`)
    expect(smtp.mails[0].text?.trim()).toBe(`Product ${it1.payload.id} (s1) by rs-fem`)
  })

  it('substitutes values only: no expressions, no header injection through the subject', () => {
    const context = { payload: { a: 'x\r\nBcc: evil@example.org', n: 0, b: false, o: { k: 1 } } }
    expect(renderTemplate('{{payload.n}} {{payload.b}} {{payload.o}}', context)).toBe('0 false {\n  "k": 1\n}')
    expect(renderTemplate('{{ payload.constructor }} {{payload.a.length}} {{1+1}} {{payload}', context)).toBe('  {{1+1}} {{payload}')
  })

  it('sends a batch over one SMTP connection', async () => {
    const smtp = await server()
    const results = await sender(smtpParams(smtp.port)).send(Array.from({ length: 8 }, () => item()))
    expect(results.every((r) => r.ok)).toBe(true)
    expect(smtp.mails).toHaveLength(8)
    expect(smtp.connections()).toBe(1)
  })

  it('fails permanently with the server reply when authentication is rejected, never showing the password', async () => {
    const smtp = await server()
    const wrong = `${PASSWORD}-old`
    const results = await sender(smtpParams(smtp.port, { password: wrong })).send([item(), item()])
    for (const result of results) {
      expect(result).toMatchObject({ ok: false, permanent: true, errorClass: 'SMTP_535' })
      const message = (result as { message: string }).message
      expect(message).toContain('535 Authentication credentials invalid')
      expect(message).not.toContain(wrong)
      expect(message).not.toContain(Buffer.from(wrong).toString('base64'))
    }
    expect(smtp.mails).toHaveLength(0)
  })

  it('classifies recipient refusals: 550 permanent, 452 retryable; a dead server is retryable', async () => {
    const smtp = await server({ rejectRcpt: (a) => (a.startsWith('gone') ? 550 : a.startsWith('busy') ? 452 : undefined) })
    const [gone] = await sender(smtpParams(smtp.port, { to: 'gone@example.org' })).send([item()])
    expect(gone).toMatchObject({ ok: false, permanent: true, errorClass: 'SMTP_550' })
    expect((gone as { message: string }).message).toContain('gone@example.org unavailable')
    const [busy] = await sender(smtpParams(smtp.port, { to: 'busy@example.org' })).send([item()])
    expect(busy).toMatchObject({ ok: false, permanent: false, errorClass: 'SMTP_452' })
    // Accepted for one address, refused for the others: a failure naming the refused ones, never SUCCESS.
    const [partly] = await sender(smtpParams(smtp.port, { to: 'ops@example.org, gone@example.org, gone2@example.org' })).send([item()])
    expect(partly).toEqual({
      ok: false,
      permanent: true,
      errorClass: 'SMTP_RECIPIENTS_REFUSED',
      message: expect.stringMatching(/^SMTP server refused gone@example\.org, gone2@example\.org \(accepted ops@example\.org\): 550 .*gone@example\.org unavailable$/),
    })
    expect(smtp.envelopes.at(-1)).toEqual(['ops@example.org'])
    const [partlyBusy] = await sender(smtpParams(smtp.port, { to: 'ops@example.org, busy@example.org' })).send([item()])
    expect(partlyBusy).toMatchObject({ ok: false, permanent: false, errorClass: 'SMTP_RECIPIENTS_REFUSED', message: expect.stringContaining('refused busy@example.org') })

    const dead = await smtpServer()
    await dead.close()
    const [down] = await sender(smtpParams(dead.port, { timeoutMs: 2000 })).send([item()])
    expect(down).toMatchObject({ ok: false, permanent: false, errorClass: 'SMTP_NETWORK' })
    expect((down as { message: string }).message).toContain('ECONNREFUSED')
  })

  it('upgrades with STARTTLS when requireTLS is set, and checks the certificate unless told otherwise', async () => {
    const tls = await server({ starttls: true })
    expect(await sender(smtpParams(tls.port, { requireTLS: true, tlsRejectUnauthorized: false })).send([item()])).toMatchObject([{ ok: true }])
    expect(tls.mails).toHaveLength(1)
    const [untrusted] = await sender(smtpParams(tls.port, { requireTLS: true })).send([item()])
    expect(untrusted).toMatchObject({ ok: false, permanent: false, errorClass: 'SMTP_NETWORK' })
    expect((untrusted as { message: string }).message).toContain('certificate')
    const clear = await server()
    const [refused] = await sender(smtpParams(clear.port, { requireTLS: true })).send([item()])
    expect(refused).toMatchObject({ ok: false, permanent: true })
    expect((refused as { message: string }).message).toContain('STARTTLS')
    expect(clear.mails).toHaveLength(0)
  })

  it('redacts the password from any error text', () => {
    const err = Object.assign(new Error(`AUTH PLAIN ${Buffer.from(PASSWORD).toString('base64')} failed for ${PASSWORD}`), { code: 'EAUTH' })
    const result = classifySmtpError(err, [PASSWORD])
    expect(result).toEqual({ ok: false, permanent: true, errorClass: 'SMTP_EAUTH', message: 'AUTH PLAIN *** failed for ***', parkRecipient: true })
  })

  it('validates its parameters', () => {
    const v = emailSender.validate
    expect(v({})).toEqual(['parameter host is mandatory', 'parameter from is mandatory', 'parameter to is mandatory'])
    expect(v({ host: 'smtp', from: 'a@b', to: 'c@d, nobody', port: '99999' })).toEqual([
      'parameter port must be between 1 and 65535, got "99999"',
      'parameter to must be a comma-separated list of e-mail addresses, got "c@d, nobody"',
    ])
    const problems = v({ host: 'smtp', from: 'a@b', to: 'c@d', password: PASSWORD })
    expect(problems).toEqual(['parameters user and password must be given together'])
    expect(problems.join()).not.toContain(PASSWORD)
    expect(emailSender.describe({ recipientLabel: 'mail' })).toMatchObject({ recipientLabel: 'mail', ackRequired: false, description: 'E-mail sender' })
  })
})

describe('postgres: EmailSender end to end through the notifier', () => {
  let vhost: Awaited<ReturnType<typeof createVhost>>
  let storage: TestStorage
  let herald: Herald
  let client: RegardsClient
  let smtp: Awaited<ReturnType<typeof smtpServer>>

  beforeAll(async () => {
    vhost = await createVhost()
    storage = await createTestStorage('postgres')
    herald = await startTestHerald({ storage, amqpUrl: vhost.url })
    smtp = await smtpServer()
    await importConfig(herald, TENANT, [
      pluginConf('EmailSender', 'mail', { ...smtpParams(smtp.port), recipientLabel: 'mail-ops', maxAttempts: 2, retryInitialDelayMs: 50 }),
      pluginConf('EmailSender', 'mail-bad-auth', { ...smtpParams(smtp.port), password: 'wrong', recipientLabel: 'mail-bad', maxAttempts: 3, retryInitialDelayMs: 50 }),
      pluginConf('LuceneRuleMatcher', 'created', { metadata_rule: 'action:CREATED', payload_rule: 'type:Feature' }),
      pluginConf('LuceneRuleMatcher', 'deleted', { metadata_rule: 'action:DELETED', payload_rule: 'type:Feature' }),
      association('created', ['mail']),
      association('deleted', ['mail', 'mail-bad-auth']),
    ])
    client = new RegardsClient(vhost.url)
    await client.listenToEvents()
  })

  afterAll(async () => {
    await client?.close()
    await herald?.stop()
    await smtp?.close()
    await storage?.drop()
    await vhost?.drop()
  })

  const publish = async (id: string, action: string) => {
    const requestId = randomUUID()
    await client.publishRequest({ tenant: TENANT, requestId, owner: 'rs-fem', body: { payload: { type: 'Feature', id, properties: { v: 1 } }, metadata: { action } } })
    await waitFor(() => client.eventsFor(requestId).some((e) => ['SUCCESS', 'ERROR'].includes(e.body.state)), `completion of ${id}`, { timeoutMs: 20_000, wakeOn: client.onMessage })
    return client.eventsFor(requestId).at(-1)!.body
  }

  it('mails the product and reports the recipient in the SUCCESS event', async () => {
    const event = await publish('mailed-product', 'CREATED')
    expect(event.state).toBe('SUCCESS')
    expect(event.recipients).toEqual([{ label: 'mail-ops', status: 'SUCCESS', ackRequired: false, blockingRequired: false }])
    const mail = smtp.mails.find((m) => m.subject === '[Herald] CREATED mailed-product')
    expect(mail).toBeDefined()
    expect(mail!.text).toContain('"id": "mailed-product"')
  })

  it('parks the recipient whose server rejects the credentials, with the reason, and keeps its delivery waiting', async () => {
    const requestId = randomUUID()
    await client.publishRequest({ tenant: TENANT, requestId, owner: 'rs-fem', body: { payload: { type: 'Feature', id: 'half-mailed', properties: { v: 1 } }, metadata: { action: 'DELETED' } } })
    const parked = async () => {
      const { rows } = await sql<{ parked: boolean; parked_reason: string }>`select s.parked, s.parked_reason from recipient_state s
        join plugin_configuration c on c.id = s.recipient_id where c.business_id = 'mail-bad-auth'`.execute(herald.ctx.db)
      return rows[0]
    }
    await waitFor(async () => (await parked())?.parked === true, 'mail-bad-auth to be parked', { timeoutMs: 20_000 })
    const state = await parked()
    expect(state?.parked).toBe(true)
    expect(state?.parked_reason).toMatch(/535|auth/i)
    expect(state?.parked_reason).not.toContain('wrong')
    // The mail to the working recipient went out; the request waits for the parked one instead of failing it.
    await waitFor(() => smtp.mails.some((m) => m.subject === '[Herald] DELETED half-mailed'), 'mail to mail-ops', { timeoutMs: 10_000, wakeOn: client.onMessage })
    const { rows } = await sql<{ state: string }>`select d.state from delivery d join plugin_configuration c on c.id = d.recipient_id
      where c.business_id = 'mail-bad-auth'`.execute(herald.ctx.db)
    expect(rows.map((r) => r.state)).toEqual(['PENDING'])
    expect(client.eventsFor(requestId).map((e) => e.body.state)).toEqual(['GRANTED'])
  })
})
