import dns from 'node:dns'
import net from 'node:net'

/**
 * Where recipients may make Herald connect: the one address policy of every sender that opens a
 * connection (WebhookSender, EmailSender).
 *
 * - A public address is always allowed.
 * - Any other address (the ranges below) is refused, unless the recipient sets `allowPrivateNetwork=true`
 *   **and** the instance operator lists a range holding it in `HERALD_ALLOW_PRIVATE_NETWORKS`. A tenant
 *   ADMIN configures recipients, the operator decides which internal networks they may reach.
 *
 * The address checked is the one connected to: a literal IP as the URL parser reads it (`127.1`,
 * `2130706433`, `0x7f.0.0.1` all become `127.0.0.1`, `[::ffff:127.0.0.1]` becomes `::ffff:7f00:1`), and for
 * a name every address the resolver returns, at connect time (`lookup` below), so a name cannot resolve to a
 * public address for a check and to a private one for the connection.
 */

// IANA special-purpose address registries, every block not "globally reachable", plus multicast and the
// deprecated ones that embed or relay to other addresses.
const NON_PUBLIC_IPV4: [string, number][] = [
  ['0.0.0.0', 8], // "this network", 0.0.0.0 included
  ['10.0.0.0', 8], // RFC 1918
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (cloud metadata services live at 169.254.169.254)
  ['172.16.0.0', 12], // RFC 1918
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // TEST-NET-1
  ['192.88.99.0', 24], // 6to4 relay anycast (deprecated)
  ['192.168.0.0', 16], // RFC 1918
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // TEST-NET-2
  ['203.0.113.0', 24], // TEST-NET-3
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, 255.255.255.255 (broadcast) included
]
// IPv4-mapped addresses (::ffff:a.b.c.d) need no entry: net.BlockList checks them against the IPv4 blocks.
const NON_PUBLIC_IPV6: [string, number][] = [
  ['::', 96], // IPv4-compatible ::a.b.c.d (deprecated), :: and ::1 included
  ['64:ff9b::', 96], // NAT64: reaches any IPv4 address, private ones included
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard-only
  ['2001::', 32], // Teredo (embeds an IPv4 address)
  ['2001:2::', 48], // benchmarking
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4 (embeds an IPv4 address)
  ['3fff::', 20], // documentation
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
]

const NON_PUBLIC = new net.BlockList()
for (const [address, prefix] of NON_PUBLIC_IPV4) NON_PUBLIC.addSubnet(address, prefix, 'ipv4')
for (const [address, prefix] of NON_PUBLIC_IPV6) NON_PUBLIC.addSubnet(address, prefix, 'ipv6')

const familyOf = (address: string): 'ipv4' | 'ipv6' | undefined => {
  const family = net.isIP(address)
  return family === 4 ? 'ipv4' : family === 6 ? 'ipv6' : undefined
}

/** Whether an IP address is on the public internet (false for anything in the ranges above, and for non-addresses). */
export function isPublicAddress(address: string): boolean {
  const family = familyOf(address)
  return family !== undefined && !NON_PUBLIC.check(address, family)
}

/**
 * `HERALD_ALLOW_PRIVATE_NETWORKS`: comma-separated CIDRs (`10.1.0.0/16`, `fd12::/64`; a bare address is one
 * host). Throws on an entry that is not one, naming it, so a typo does not silently allow nothing.
 */
export function parseNetworkList(text: string | undefined): string[] {
  const entries = (text ?? '').split(',').map((e) => e.trim()).filter(Boolean)
  for (const entry of entries) {
    const [address, prefix, extra] = entry.split('/')
    const family = familyOf(address)
    const max = family === 'ipv4' ? 32 : 128
    if (!family || extra !== undefined || (prefix !== undefined && !(/^\d{1,3}$/.test(prefix) && Number(prefix) <= max))) {
      throw new Error(`HERALD_ALLOW_PRIVATE_NETWORKS: ${JSON.stringify(entry)} is not a CIDR (address/prefix, e.g. 10.0.0.0/8 or fd00::/8)`)
    }
  }
  return entries
}

/** The error code of a connection the policy refused. */
export const DESTINATION_REFUSED = 'HERALD_DESTINATION_REFUSED'

export const isDestinationRefused = (err: unknown): boolean => {
  const e = err as { code?: string; cause?: { code?: string } } | undefined
  return e?.code === DESTINATION_REFUSED || e?.cause?.code === DESTINATION_REFUSED
}

const refusedError = (message: string) => Object.assign(new Error(message), { code: DESTINATION_REFUSED })

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void

export interface NetworkPolicy {
  /** The instance's allowed non-public ranges, as configured. */
  readonly allowedNetworks: readonly string[]
  /** Why Herald will not connect to this IP address for a recipient; undefined when it may. */
  refusal(address: string, allowPrivateNetwork: boolean): string | undefined
  /** The refusal for a host that is a literal IP address (brackets allowed); undefined for a name. */
  literalRefusal(host: string, allowPrivateNetwork: boolean): string | undefined
  /** `dns.lookup` for `net.connect`/undici: resolves, then fails with DESTINATION_REFUSED when any address is refused. */
  lookup(allowPrivateNetwork: boolean): (hostname: string, options: dns.LookupOptions, callback: LookupCallback) => void
  /** Opens a TCP connection to host:port under the policy (for clients that take a ready socket, as nodemailer does). */
  connect(host: string, port: number, allowPrivateNetwork: boolean, timeoutMs: number): Promise<net.Socket>
}

/** The policy of an instance whose operator allows `allowedNetworks` (from {@link parseNetworkList}). */
export function networkPolicy(allowedNetworks: readonly string[]): NetworkPolicy {
  const allowed = new net.BlockList()
  for (const entry of allowedNetworks) {
    const [address, prefix] = entry.split('/')
    const family = familyOf(address)!
    allowed.addSubnet(address, prefix === undefined ? (family === 'ipv4' ? 32 : 128) : Number(prefix), family)
  }
  const listed = allowedNetworks.length > 0 ? allowedNetworks.join(',') : 'empty'

  function refusal(address: string, allowPrivateNetwork: boolean): string | undefined {
    const family = familyOf(address)
    if (!family) return `${address} is not an IP address`
    if (!NON_PUBLIC.check(address, family)) return undefined
    if (!allowPrivateNetwork) return `${address} is not a public address; set allowPrivateNetwork=true to allow it within HERALD_ALLOW_PRIVATE_NETWORKS`
    if (allowed.check(address, family)) return undefined
    return `${address} is not a public address and not in the instance's HERALD_ALLOW_PRIVATE_NETWORKS (${listed})`
  }

  function literalRefusal(host: string, allowPrivateNetwork: boolean): string | undefined {
    const address = host.replace(/^\[(.*)\]$/, '$1')
    return net.isIP(address) === 0 ? undefined : refusal(address, allowPrivateNetwork)
  }

  const lookup = (allowPrivateNetwork: boolean) => (hostname: string, options: dns.LookupOptions, callback: LookupCallback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, [])
      const reasons = addresses.map((a) => refusal(a.address, allowPrivateNetwork)).filter((r) => r !== undefined)
      if (reasons.length > 0) return callback(refusedError(`${hostname} resolves to ${reasons.join('; ')}`), [])
      if (options.all) callback(null, addresses)
      else callback(null, addresses[0].address, addresses[0].family)
    })
  }

  function connect(host: string, port: number, allowPrivateNetwork: boolean, timeoutMs: number): Promise<net.Socket> {
    const literal = literalRefusal(host, allowPrivateNetwork)
    if (literal) return Promise.reject(refusedError(literal))
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: host.replace(/^\[(.*)\]$/, '$1'), port, lookup: lookup(allowPrivateNetwork) })
      const timer = setTimeout(() => {
        socket.destroy()
        reject(Object.assign(new Error(`no connection to ${host}:${port} within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }))
      }, timeoutMs)
      const failed = (err: Error) => {
        clearTimeout(timer)
        reject(err)
      }
      socket.once('error', failed)
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.removeListener('error', failed)
        resolve(socket)
      })
    })
  }

  return { allowedNetworks, refusal, literalRefusal, lookup, connect }
}

const LOOPBACK = new net.BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')

/** Whether a connected socket's peer is this machine (a loopback address, IPv4-mapped included). */
export function isLoopback(address: string | undefined): boolean {
  const family = address === undefined ? undefined : familyOf(address)
  return family !== undefined && LOOPBACK.check(address!, family)
}

/**
 * Largest `timeoutMs` a recipient may set: 60 s, half the 120 s lease a claimed delivery holds
 * (claim-deliveries.ts), so that one slow answer cannot outlive the claim and have another instance send
 * the same product again.
 */
export const MAX_TIMEOUT_MS = 60_000
