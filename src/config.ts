import path from 'node:path'
import { parseNetworkList } from './senders/outbound-network.ts'
import { parseCrossTenantRules, type CrossTenantRules } from './senders/tenant-boundary.ts'

/** Everything Herald reads from its environment. `loadConfig` is the only reader of `process.env`. */
export interface Config {
  /** The first URL of HERALD_AMQP_URL: the credentials, vhost and options of every node. */
  readonly amqpUrl: string
  /** `host:port` of every RabbitMQ node of HERALD_AMQP_URL (one for a single broker), tried in turn on each (re)connect. */
  readonly amqpHosts: readonly string[]
  /** `postgres://…`, or undefined for the embedded PGlite data directory. */
  readonly databaseUrl: string | undefined
  readonly dataDir: string
  readonly httpHost: string
  readonly httpPort: number
  /** Accepted tenants; undefined accepts every tenant. */
  readonly tenants: ReadonlySet<string> | undefined
  /** HS256 secret of API tokens (≥ 32 bytes); unset ⇒ a random secret generated once into `<dataDir>/jwt-secret` (0600). */
  readonly jwtSecret: string | undefined
  /** Key sealing secret parameters in the database (32 bytes, base64); unset ⇒ generated once into `<dataDir>/secret-key` (0600). */
  readonly secretKey: string | undefined
  /** The key HERALD_SECRET_KEY replaces: secrets it sealed still open, and are sealed again with the new key at start. */
  readonly secretKeyPrevious: string | undefined
  /** PEM file of a public key (RSA or EC): tokens signed RS256/ES256 by an external issuer are accepted too. */
  readonly jwtPublicKeyFile: string | undefined
  /** JWKS file (`{"keys": [...]}`) of the public keys of an external issuer (RS256/ES256, matched by `kid`). */
  readonly jwtJwksFile: string | undefined
  /** AMQP `app_id` of every message Herald publishes (REGARDS `regards.instance.name`). */
  readonly instanceName: string
  readonly logLevel: string
  /** Largest AMQP message body accepted; larger ones are answered DENIED. */
  readonly maxMessageBytes: number
  /**
   * How many messages one intake transaction takes: HERALD_INTAKE_BATCH_SIZE, lowered to half the prefetch
   * when the memory bound lowers that.
   */
  readonly intakeBatchSize: number
  /**
   * The intake queues' AMQP prefetch: two batches (the next fills while one commits), lowered so that a
   * full prefetch of messages of the largest accepted size fits in `intakeMemoryBytes`.
   */
  readonly intakePrefetch: number
  /** Bound on what one intake queue's prefetch may hold: prefetch × maxMessageBytes ≤ this. */
  readonly intakeMemoryBytes: number
  /** How often a notifier instance records that it is alive. */
  readonly heartbeatMs: number
  /** Silence after which an instance counts as gone and its claimed deliveries go back to PENDING. */
  readonly heartbeatGraceMs: number
  /** How many deliveries one claim takes for one recipient (a recipient's `batchSize` overrides it). */
  readonly deliveryBatchSize: number
  /** Days a completed request stays in the history before it is purged. */
  /** Requests per transaction of a bulk retry job. */
  readonly retryJobBatchSize: number
  readonly historyRetentionDays: number
  /** How long `herald start` waits for an unreachable broker or database before it exits (seconds). */
  readonly startupTimeoutS: number
  /** API requests per minute per token (tenant + subject), or per client address without a valid token; 0: no limit. */
  readonly apiRateLimit: number
  /** When set, `/metrics` answers only to `Authorization: Bearer <this token>`. */
  readonly metricsToken: string | undefined
  /** PostgreSQL: how long a query waits for a free pooled connection (or a new one) before it fails; 0: no limit. */
  readonly dbAcquireTimeoutMs: number
  /** PostgreSQL `statement_timeout` of Herald's connections; 0: the server's setting. */
  readonly dbStatementTimeoutMs: number
  /** PostgreSQL `idle_in_transaction_session_timeout` of Herald's connections; 0: the server's setting. */
  readonly dbIdleInTransactionTimeoutMs: number
  /** Longest validity of an API token, from now to its `exp`: `herald token` mints no longer, the API refuses longer. */
  readonly tokenMaxLifetimeSeconds: number
  /** When set, every API token must carry this `iss`. */
  readonly jwtIssuer: string | undefined
  /** When set, every API token must carry this `aud` (or a list holding it). */
  readonly jwtAudience: string | undefined
  /** HS256 tokens are accepted along with an external issuer's (public key, JWKS) only when this is true. */
  readonly jwtAllowHs256: boolean
  /** Non-public CIDRs that recipients with `allowPrivateNetwork=true` may reach (src/senders/outbound-network.ts). */
  readonly allowPrivateNetworks: readonly string[]
  /** Which tenants' recipients may publish as which other tenants (src/senders/tenant-boundary.ts); empty: none. */
  readonly crossTenantPublish: CrossTenantRules
}

/** A setting Herald cannot use: its message is the one line `herald start` prints before it exits 1. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672'

/** The URL as it may appear in a log line: the password masked. */
function redacted(url: URL): string {
  const copy = new URL(url.href)
  if (copy.password) copy.password = '***'
  return copy.href
}

/**
 * HERALD_AMQP_URL: one URL, or the nodes of one RabbitMQ cluster as comma-separated URLs. The AMQP client
 * takes one set of credentials, vhost and options and a list of `host:port` it walks on each (re)connect,
 * so the URLs of a list may differ in host and port only.
 */
export function parseAmqpUrls(value: string): { url: string; hosts: string[] } {
  const entries = value.split(',').map((entry) => entry.trim())
  const urls = entries.map((entry, i) => {
    const where = entries.length > 1 ? `HERALD_AMQP_URL entry ${i + 1} of ${entries.length}` : 'HERALD_AMQP_URL'
    if (entry === '') throw new ConfigError(`${where} is empty`)
    let url: URL
    try {
      url = new URL(entry)
    } catch {
      throw new ConfigError(`${where} is not a URL (expected amqp://user:password@host:port/vhost)`)
    }
    if (url.protocol !== 'amqp:' && url.protocol !== 'amqps:') throw new ConfigError(`${where} (${redacted(url)}): the scheme must be amqp: or amqps:`)
    if (url.hostname === '') throw new ConfigError(`${where} (${redacted(url)}) names no host`)
    // The client splits `host:port` at its colon and cannot reach a bracketed IPv6 literal.
    if (url.hostname.startsWith('[')) throw new ConfigError(`${where} (${redacted(url)}): IPv6 addresses are not supported, use a host name`)
    return url
  })
  const first = urls[0]
  const parts: [string, (url: URL) => string][] = [
    ['scheme', (url) => url.protocol],
    ['user name', (url) => url.username],
    ['password', (url) => url.password],
    ['vhost', (url) => url.pathname],
    ['options', (url) => url.search],
  ]
  const hosts: string[] = []
  urls.forEach((url, i) => {
    for (const [part, of] of parts) {
      if (of(url) !== of(first)) throw new ConfigError(`HERALD_AMQP_URL entry ${i + 1} (${redacted(url)}) has another ${part} than entry 1 (${redacted(first)}): the URLs of one cluster may differ in host and port only`)
    }
    const host = `${url.hostname}:${url.port || (url.protocol === 'amqps:' ? '5671' : '5672')}`
    if (hosts.includes(host)) throw new ConfigError(`HERALD_AMQP_URL entry ${i + 1} repeats ${host}`)
    hosts.push(host)
  })
  return { url: entries[0], hosts }
}

/** A value parsed by another module: its error becomes a ConfigError (one line, exit 1). */
function configured<T>(parse: () => T): T {
  try {
    return parse()
  } catch (err) {
    throw new ConfigError((err as Error).message)
  }
}

function intFrom(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${name} must be a non-negative integer, got "${value}"`)
  return n
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 }

/**
 * Seconds of a duration written as seconds or with a unit, or undefined when it is not one.
 *
 * @example parseDuration('12h') // 43200
 */
export function parseDuration(value: string): number | undefined {
  const m = /^(\d+)([smhd]?)$/.exec(value.trim())
  return m ? Number(m[1]) * DURATION_UNITS[m[2] || 's'] : undefined
}

function durationFrom(value: string | undefined, fallbackSeconds: number, name: string): number {
  if (value === undefined || value === '') return fallbackSeconds
  const seconds = parseDuration(value)
  if (!seconds) throw new ConfigError(`${name} must be a positive duration such as 3600, 90m, 12h or 7d, got "${value}"`)
  return seconds
}

function booleanFrom(value: string | undefined, name: string): boolean {
  if (value === undefined || value === '' || value === 'false') return false
  if (value === 'true') return true
  throw new ConfigError(`${name} must be true or false, got "${value}"`)
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const tenants = env.HERALD_TENANTS?.split(',').map((t) => t.trim()).filter(Boolean)
  const amqp = parseAmqpUrls(env.HERALD_AMQP_URL || DEFAULT_AMQP_URL)
  const maxMessageBytes = intFrom(env.HERALD_MAX_MESSAGE_BYTES, 10 * 1024 * 1024, 'HERALD_MAX_MESSAGE_BYTES')
  const intakeMemoryBytes = intFrom(env.HERALD_INTAKE_MEMORY_BYTES, 1024 * 1024 * 1024, 'HERALD_INTAKE_MEMORY_BYTES')
  // The prefetch is two batches, so that the next batch fills while one is in its transaction: with a
  // prefetch of one batch (51) the broker sent nothing more until a batch was acked, and batches were ~17
  // messages. Bounded by memory: 10 MiB messages and 1 GiB give a prefetch of 102 and batches of 51
  // (docs/benchmarks.md, 2026-12-03 afternoon: 0.61–0.79 statements and 0.40–0.48 commits per request
  // instead of 1.17–1.40 and 0.53–0.81).
  const intakePrefetch = Math.max(1, Math.min(2 * intFrom(env.HERALD_INTAKE_BATCH_SIZE, 500, 'HERALD_INTAKE_BATCH_SIZE'), Math.floor(intakeMemoryBytes / Math.max(1, maxMessageBytes))))
  const intakeBatchSize = Math.ceil(intakePrefetch / 2)
  const heartbeatMs = Math.max(1, intFrom(env.HERALD_HEARTBEAT_MS, 1000, 'HERALD_HEARTBEAT_MS'))
  const heartbeatGraceMs = intFrom(env.HERALD_HEARTBEAT_GRACE_MS, 3000, 'HERALD_HEARTBEAT_GRACE_MS')
  // A grace of less than two beats takes over instances that are merely one beat late.
  if (heartbeatGraceMs < 2 * heartbeatMs) {
    throw new ConfigError(`HERALD_HEARTBEAT_GRACE_MS (${heartbeatGraceMs}) must be at least twice HERALD_HEARTBEAT_MS (${heartbeatMs})`)
  }
  return Object.freeze({
    amqpUrl: amqp.url,
    amqpHosts: Object.freeze(amqp.hosts),
    databaseUrl: env.HERALD_DATABASE_URL || undefined,
    dataDir: path.resolve(env.HERALD_DATA_DIR || './.herald'),
    httpHost: env.HERALD_HTTP_HOST || '127.0.0.1',
    httpPort: intFrom(env.HERALD_HTTP_PORT, 9039, 'HERALD_HTTP_PORT'),
    tenants: tenants && tenants.length > 0 ? new Set(tenants) : undefined,
    jwtSecret: env.HERALD_JWT_SECRET || undefined,
    secretKey: env.HERALD_SECRET_KEY || undefined,
    secretKeyPrevious: env.HERALD_SECRET_KEY_PREVIOUS || undefined,
    jwtPublicKeyFile: env.HERALD_JWT_PUBLIC_KEY_FILE ? path.resolve(env.HERALD_JWT_PUBLIC_KEY_FILE) : undefined,
    jwtJwksFile: env.HERALD_JWT_JWKS_FILE ? path.resolve(env.HERALD_JWT_JWKS_FILE) : undefined,
    instanceName: env.HERALD_INSTANCE_NAME || 'REGARDS',
    logLevel: env.HERALD_LOG_LEVEL || 'info',
    maxMessageBytes,
    intakeBatchSize,
    intakePrefetch,
    intakeMemoryBytes,
    heartbeatMs,
    heartbeatGraceMs,
    // 25 × 2 batches in flight: at most 50 deliveries per recipient sent and not yet recorded, which is
    // what a kill -9 sends again (200 made ~2.5 % of the deliveries arrive twice with a kill every 5 s).
    deliveryBatchSize: intFrom(env.HERALD_DELIVERY_BATCH_SIZE, 25, 'HERALD_DELIVERY_BATCH_SIZE'),
    // 500 requests per transaction: ~0.1 s each on PostgreSQL, so a bulk retry holds each request's row briefly.
    retryJobBatchSize: Math.max(1, intFrom(env.HERALD_RETRY_JOB_BATCH_SIZE, 500, 'HERALD_RETRY_JOB_BATCH_SIZE')),
    historyRetentionDays: intFrom(env.HERALD_HISTORY_RETENTION_DAYS, 30, 'HERALD_HISTORY_RETENTION_DAYS'),
    startupTimeoutS: intFrom(env.HERALD_STARTUP_TIMEOUT_S, 60, 'HERALD_STARTUP_TIMEOUT_S'),
    // 1,000 a minute is ~17 a second per token: far above what an operator, a script or a console does, and
    // ~1.5 % of what the API serves on PostgreSQL (~1,150 req/s, 430 on PGlite: docs/api.md), so one token
    // cannot keep the database busy for everyone.
    apiRateLimit: intFrom(env.HERALD_API_RATE_LIMIT, 1000, 'HERALD_API_RATE_LIMIT'),
    metricsToken: env.HERALD_METRICS_TOKEN || undefined,
    dbAcquireTimeoutMs: intFrom(env.HERALD_DB_ACQUIRE_TIMEOUT_MS, 10_000, 'HERALD_DB_ACQUIRE_TIMEOUT_MS'),
    dbStatementTimeoutMs: intFrom(env.HERALD_DB_STATEMENT_TIMEOUT_MS, 30_000, 'HERALD_DB_STATEMENT_TIMEOUT_MS'),
    dbIdleInTransactionTimeoutMs: intFrom(env.HERALD_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS, 60_000, 'HERALD_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS'),
    tokenMaxLifetimeSeconds: durationFrom(env.HERALD_TOKEN_MAX_LIFETIME, 7 * 86_400, 'HERALD_TOKEN_MAX_LIFETIME'),
    jwtIssuer: env.HERALD_JWT_ISSUER || undefined,
    jwtAudience: env.HERALD_JWT_AUDIENCE || undefined,
    jwtAllowHs256: booleanFrom(env.HERALD_JWT_ALLOW_HS256, 'HERALD_JWT_ALLOW_HS256'),
    allowPrivateNetworks: Object.freeze(configured(() => parseNetworkList(env.HERALD_ALLOW_PRIVATE_NETWORKS))),
    crossTenantPublish: Object.freeze(configured(() => parseCrossTenantRules(env.HERALD_ALLOW_CROSS_TENANT_PUBLISH))),
  })
}
