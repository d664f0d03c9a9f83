import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import fc from 'fast-check'
import { SMTPServer } from 'smtp-server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { emailSender } from '../src/senders/email-sender.ts'
import { isPublicAddress, networkPolicy, parseNetworkList } from '../src/senders/outbound-network.ts'
import { MAX_ANSWER_BYTES, receiverAnswer } from '../src/senders/receiver-answer.ts'
import type { Parameters, SendResult, SenderPlugin } from '../src/senders/sender.ts'
import { webhookSender } from '../src/senders/webhook-sender.ts'
import { deliveryItem, testSenderContext } from './support/sender-rig.ts'
import { TEST_PRIVATE_NETWORKS } from './support/services.ts'

const NONE = networkPolicy([])
const TESTS = networkPolicy(parseNetworkList(TEST_PRIVATE_NETWORKS))
const item = () => deliveryItem({ tenant: 'project1', payload: { id: `p-${randomUUID().slice(0, 8)}` } })

/** Sends one item through a sender built under `policy` and closes it. */
async function sendOne(plugin: SenderPlugin, params: Parameters, policy = TESTS): Promise<SendResult> {
  expect(plugin.validate(params)).toEqual([])
  const sender = plugin.create(params, testSenderContext({ network: policy }))
  try {
    return (await sender.send([item()]))[0]
  } finally {
    await sender.close?.()
  }
}

// One sample per refused block (first, inner and last addresses where they matter).
const REFUSED = [
  '0.0.0.0', '0.255.255.255', '10.0.0.1', '10.255.255.255', '100.64.0.1', '100.127.255.255', '127.0.0.1', '127.255.255.254',
  '169.254.169.254', '172.16.0.1', '172.31.255.255', '192.0.0.1', '192.0.2.7', '192.88.99.1', '192.168.1.1', '198.18.0.1',
  '198.19.255.255', '198.51.100.1', '203.0.113.9', '224.0.0.1', '239.255.255.250', '240.0.0.1', '255.255.255.255',
  '::', '::1', '::127.0.0.1', '::8.8.8.8', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '::ffff:a9fe:a9fe',
  '64:ff9b::8.8.8.8', '64:ff9b:1::1', '100::1', '2001::1', '2001:db8::1', '2002:c0a8:101::1', 'fc00::1', 'fd12:3456::1',
  'fe80::1', 'febf::1', 'fec0::1', 'ff02::1', 'ff05::1:3',
]
const PUBLIC = ['1.1.1.1', '8.8.8.8', '9.255.255.255', '11.0.0.0', '100.63.255.255', '100.128.0.1', '172.15.255.255', '172.32.0.1', '192.0.1.1', '192.169.0.1', '198.17.255.255', '198.20.0.1', '223.255.255.255', '::ffff:8.8.8.8', '::ffff:808:808', '2a00:1450:4007::1', '2606:4700::1111']

describe('the address policy', () => {
  it('refuses every non-public block and nothing public', () => {
    for (const a of REFUSED) expect(isPublicAddress(a), a).toBe(false)
    for (const a of PUBLIC) expect(isPublicAddress(a), a).toBe(true)
    for (const a of PUBLIC) expect(NONE.refusal(a, false), a).toBeUndefined()
  })

  it('lets allowPrivateNetwork=true reach a non-public address only inside HERALD_ALLOW_PRIVATE_NETWORKS', () => {
    const policy = networkPolicy(parseNetworkList(' 10.1.0.0/16, fd00::/8 ,192.168.7.7'))
    expect(policy.refusal('10.1.2.3', true)).toBeUndefined()
    expect(policy.refusal('::ffff:10.1.2.3', true)).toBeUndefined()
    expect(policy.refusal('fd00::5', true)).toBeUndefined()
    expect(policy.refusal('192.168.7.7', true)).toBeUndefined()
    expect(policy.refusal('10.1.2.3', false)).toBe('10.1.2.3 is not a public address; set allowPrivateNetwork=true to allow it within HERALD_ALLOW_PRIVATE_NETWORKS')
    expect(policy.refusal('10.2.0.1', true)).toBe("10.2.0.1 is not a public address and not in the instance's HERALD_ALLOW_PRIVATE_NETWORKS (10.1.0.0/16,fd00::/8,192.168.7.7)")
    expect(policy.refusal('192.168.7.8', true)).toMatch(/not in the instance's/)
    expect(NONE.refusal('127.0.0.1', true)).toBe("127.0.0.1 is not a public address and not in the instance's HERALD_ALLOW_PRIVATE_NETWORKS (empty)")
    // IPv4-compatible ::a.b.c.d is not IPv4-mapped: 127.0.0.0/8 does not cover it.
    expect(TESTS.refusal('::7f00:1', true)).toMatch(/not in the instance's/)
  })

  it('reads HERALD_ALLOW_PRIVATE_NETWORKS strictly', () => {
    expect(parseNetworkList(undefined)).toEqual([])
    expect(parseNetworkList('')).toEqual([])
    expect(parseNetworkList('127.0.0.0/8,::1/128')).toEqual(['127.0.0.0/8', '::1/128'])
    for (const bad of ['10.0.0.0/33', '::/129', 'localhost', '10.0.0.0/8/1', '10.0.0/8', '10.0.0.0/-1', '10.0.0.0/']) {
      expect(() => parseNetworkList(`127.0.0.0/8,${bad}`), bad).toThrow(`HERALD_ALLOW_PRIVATE_NETWORKS: ${JSON.stringify(bad)} is not a CIDR`)
    }
  })
})

// ---------------------------------------------------------------- IP spellings, fuzzed

const octets = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255))
type Octets = [number, number, number, number]
const toInt = ([a, b, c, d]: Octets) => ((a << 24) >>> 0) + (b << 16) + (c << 8) + d
const hex = (n: number) => n.toString(16)

/** Ways the WHATWG URL parser (and inet_aton) accepts to write one IPv4 address as an http host. */
const SPELLINGS: ((o: Octets) => string)[] = [
  (o) => o.join('.'),
  (o) => `${o.join('.')}.`,
  (o) => o.map((x) => `0x${hex(x)}`).join('.'),
  (o) => o.map((x) => `0${x.toString(8)}`).join('.'),
  (o) => String(toInt(o)),
  (o) => `0x${hex(toInt(o))}`,
  (o) => `0${toInt(o).toString(8)}`,
  ([a, b, c, d]) => `${a}.${b}.${c * 256 + d}`,
  ([a, b, c, d]) => `${a}.${(b << 16) + (c << 8) + d}`,
  ([a, b, c, d]) => `0x${hex(a)}.0${b.toString(8)}.${c * 256 + d}`,
  (o) => `[::ffff:${o.join('.')}]`,
  (o) => `[0:0:0:0:0:FFFF:${o.join('.')}]`,
  ([a, b, c, d]) => `[::ffff:${hex(a * 256 + b)}:${hex(c * 256 + d)}]`,
]
const spelling = fc.nat(SPELLINGS.length - 1).map((i) => SPELLINGS[i])

/** An IPv4 address in one of the refused blocks. */
const refusedV4 = fc.constantFrom<[number[], number]>(
  [[0, 0, 0, 0], 8], [[10, 0, 0, 0], 8], [[100, 64, 0, 0], 10], [[127, 0, 0, 0], 8], [[169, 254, 0, 0], 16], [[172, 16, 0, 0], 12],
  [[192, 0, 0, 0], 24], [[192, 168, 0, 0], 16], [[198, 18, 0, 0], 15], [[224, 0, 0, 0], 4], [[240, 0, 0, 0], 4],
).chain(([base, prefix]) =>
  fc.nat(2 ** (32 - prefix) - 1).map((offset): Octets => {
    const n = toInt(base as Octets) + offset
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]
  }),
)
const hostOf = (host: string) => new URL(`http://${host}:8080/hook`).hostname

describe('fuzz: every spelling of a refused address is refused', () => {
  it('IPv4, written any way the URL parser accepts, with or without allowPrivateNetwork', () => {
    fc.assert(
      fc.property(refusedV4, spelling, fc.boolean(), (o, spell, allowPrivate) => {
        const host = hostOf(spell(o))
        expect(NONE.literalRefusal(host, allowPrivate), `${spell(o)} → ${host}`).toBeDefined()
      }),
      { numRuns: 2000 },
    )
  })

  it('a public IPv4 address stays reachable whatever its spelling (the policy reads the address, not the text)', () => {
    fc.assert(
      fc.property(octets.filter((o) => isPublicAddress(o.join('.'))), spelling, (o, spell) => {
        expect(NONE.literalRefusal(hostOf(spell(o)), false), spell(o)).toBeUndefined()
      }),
      { numRuns: 1000 },
    )
  })

  it('IPv4-compatible [::a.b.c.d] is refused for any a.b.c.d', () => {
    fc.assert(
      fc.property(octets, (o) => {
        expect(TESTS.literalRefusal(hostOf(`[::${o.join('.')}]`), true)).toBeDefined()
      }),
      { numRuns: 500 },
    )
  })

  it('IPv6 in a refused block, compressed or not, in any case', () => {
    const blocks: [number, number][] = [[0xfc00, 7], [0xfe80, 10], [0xfec0, 10], [0xff00, 8], [0x2002, 16]]
    fc.assert(
      fc.property(fc.constantFrom(...blocks), fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }), fc.boolean(), fc.boolean(), ([base, prefix], groups, upper, full) => {
        const mask = (0xffff << (16 - prefix)) & 0xffff
        groups[0] = (base & mask) | (groups[0] & ~mask & 0xffff)
        const text = full ? groups.map((g) => hex(g).padStart(4, '0')).join(':') : groups.map(hex).join(':')
        const host = hostOf(`[${upper ? text.toUpperCase() : text}]`)
        expect(NONE.literalRefusal(host, true), host).toBeDefined()
      }),
      { numRuns: 1000 },
    )
    for (const special of ['::', '::1', '64:ff9b::a00:1', '2001:db8::1', '0:0:0:0:0:0:0:1']) expect(NONE.literalRefusal(hostOf(`[${special}]`), true), special).toBeDefined()
  })
})

// ---------------------------------------------------------------- against real servers

/** Loopback in every spelling the URL parser accepts, `localhost` resolved at connect time, and 0.0.0.0. */
const LOOPBACK_HOSTS = ['127.0.0.1', '127.1', '2130706433', '0x7f.0.0.1', '0177.0.0.1', '[::ffff:127.0.0.1]', 'localhost', '[::1]']

describe('WebhookSender against a real HTTP server on loopback', () => {
  let server: http.Server
  let port: number
  let requests = 0
  let answer = ''

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      requests++
      req.resume()
      req.on('end', () => (answer ? res.writeHead(500).end(answer) : res.writeHead(204).end()))
    })
    // Dual stack: the IPv4 and the IPv6 loopback both reach it.
    await new Promise<void>((resolve) => server.listen(0, '::', resolve))
    port = (server.address() as AddressInfo).port
  })

  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  it.each(LOOPBACK_HOSTS)('%s: refused unless the recipient opts in and the instance allows loopback', async (host) => {
    const url = `http://${host}:${port}/hook`
    const before = requests
    for (const [policy, allowPrivateNetwork] of [[NONE, true], [TESTS, false]] as const) {
      const result = await sendOne(webhookSender, { url, allowPrivateNetwork }, policy)
      expect(result).toMatchObject({ ok: false, permanent: true, errorClass: 'HTTP_DESTINATION_REFUSED' })
    }
    expect(requests).toBe(before)
    expect(await sendOne(webhookSender, { url, allowPrivateNetwork: true }, TESTS)).toMatchObject({ ok: true })
    expect(requests).toBe(before + 1)
  })

  it('refuses 0.0.0.0 and IPv4-compatible ::127.0.0.1 even when loopback is allowed', async () => {
    for (const host of ['0.0.0.0', '0', '[::127.0.0.1]']) {
      const result = await sendOne(webhookSender, { url: `http://${host}:${port}/hook`, allowPrivateNetwork: true }, TESTS)
      expect(result, host).toMatchObject({ ok: false, permanent: true, errorClass: 'HTTP_DESTINATION_REFUSED' })
    }
  })

  it('keeps at most 200 bytes of the answer, without control characters', async () => {
    answer = `denied\r\n\u001b[31mred\u0000${'é'.repeat(5000)}`
    try {
      const result = await sendOne(webhookSender, { url: `http://127.0.0.1:${port}/hook`, allowPrivateNetwork: true })
      expect(result).toMatchObject({ ok: false, errorClass: 'HTTP_500' })
      const message = (result as { message: string }).message
      const kept = message.slice(message.indexOf(': ') + 2)
      expect(kept.startsWith('denied [31mred é')).toBe(true)
      expect(Buffer.byteLength(kept)).toBeLessThanOrEqual(MAX_ANSWER_BYTES)
      expect(message).not.toMatch(/[\u0000-\u001f\u007f]/)
    } finally {
      answer = ''
    }
  })
})

describe('receiverAnswer', () => {
  it('never keeps more than 200 bytes nor a control character, whatever the text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 600 }), (text) => {
        const kept = receiverAnswer(text)
        expect(Buffer.byteLength(kept)).toBeLessThanOrEqual(MAX_ANSWER_BYTES)
        expect(kept).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e]/)
      }),
      { numRuns: 100 },
    )
    expect(receiverAnswer('  short\nanswer ')).toBe('short answer')
  })
})

// ---------------------------------------------------------------- SMTP

async function smtpServer(host: string, opts: { starttls?: boolean } = {}) {
  let connections = 0
  let mails = 0
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: opts.starttls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    logger: false,
    onConnect(_session, callback) {
      connections++
      callback()
    },
    onData(stream, _session, callback) {
      stream.resume()
      stream.on('end', () => {
        mails++
        callback()
      })
    },
  })
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  return {
    port: (server.server.address() as AddressInfo).port,
    connections: () => connections,
    mails: () => mails,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

const mailParams = (host: string, port: number, extra: Parameters = {}): Parameters => ({ host, port, from: 'herald@example.org', to: 'ops@example.org', timeoutMs: 5000, ...extra })

describe('EmailSender against a real SMTP server', () => {
  it.each(['127.0.0.1', '127.1', '2130706433', 'localhost'])('%s: the SMTP host follows the same rule as a webhook', async (host) => {
    const smtp = await smtpServer('127.0.0.1')
    try {
      for (const [policy, allowPrivateNetwork] of [[NONE, true], [TESTS, false]] as const) {
        const result = await sendOne(emailSender, mailParams(host, smtp.port, { allowPrivateNetwork }), policy)
        expect(result).toMatchObject({ ok: false, permanent: true, errorClass: 'SMTP_DESTINATION_REFUSED' })
      }
      expect(smtp.connections()).toBe(0)
      // Loopback: STARTTLS is not required by default.
      expect(await sendOne(emailSender, mailParams(host, smtp.port, { allowPrivateNetwork: true }))).toMatchObject({ ok: true })
      expect(smtp.mails()).toBe(1)
    } finally {
      await smtp.close()
    }
  })

  const external = Object.values(os.networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address

  it.skipIf(!external)('requires STARTTLS from a server that is not on loopback, unless requireTLS=false', async () => {
    const smtp = await smtpServer(external!)
    const policy = networkPolicy([`${external}/32`])
    try {
      const refused = await sendOne(emailSender, mailParams(external!, smtp.port, { allowPrivateNetwork: true }), policy)
      expect(refused).toMatchObject({ ok: false, permanent: true })
      expect((refused as { message: string }).message).toContain('STARTTLS')
      expect(smtp.mails()).toBe(0)
      expect(await sendOne(emailSender, mailParams(external!, smtp.port, { allowPrivateNetwork: true, requireTLS: false }), policy)).toMatchObject({ ok: true })
      expect(smtp.mails()).toBe(1)
    } finally {
      await smtp.close()
    }
  })

  it('bounds timeoutMs', () => {
    expect(emailSender.validate(mailParams('smtp.example.org', 25, { timeoutMs: 60_001 }))).toEqual([expect.stringMatching(/^parameter timeoutMs must be between 1 and 60000/)])
  })
})
