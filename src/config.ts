import path from 'node:path'

/** Everything Herald reads from its environment. `loadConfig` is the only reader of `process.env`. */
export interface Config {
  readonly amqpUrl: string
  /** `postgres://…`, or undefined for the embedded PGlite data directory. */
  readonly databaseUrl: string | undefined
  readonly dataDir: string
  readonly httpHost: string
  readonly httpPort: number
  /** Accepted tenants; undefined accepts every tenant. */
  readonly tenants: ReadonlySet<string> | undefined
  /** HS256 secret of API tokens; unset ⇒ a random secret generated once into `<dataDir>/jwt-secret` (0600). */
  readonly jwtSecret: string | undefined
  /** PEM file of a public key (RSA or EC): tokens signed RS256/ES256 by an external issuer are accepted too. */
  readonly jwtPublicKeyFile: string | undefined
  /** JWKS file (`{"keys": [...]}`) of the public keys of an external issuer (RS256/ES256, matched by `kid`). */
  readonly jwtJwksFile: string | undefined
  /** AMQP `app_id` of every message Herald publishes (REGARDS `regards.instance.name`). */
  readonly instanceName: string
  readonly logLevel: string
  /** Largest AMQP message body accepted; larger ones are answered DENIED. */
  readonly maxMessageBytes: number
  /** How many messages one intake transaction takes (also the AMQP prefetch). */
  readonly intakeBatchSize: number
  /** How many deliveries one claim takes for one recipient. */
  readonly deliveryBatchSize: number
  /** Days a completed request stays in the history before it is purged. */
  readonly historyRetentionDays: number
}

function intFrom(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${value}"`)
  return n
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const tenants = env.HERALD_TENANTS?.split(',').map((t) => t.trim()).filter(Boolean)
  return Object.freeze({
    amqpUrl: env.HERALD_AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672',
    databaseUrl: env.HERALD_DATABASE_URL || undefined,
    dataDir: path.resolve(env.HERALD_DATA_DIR || './.herald'),
    httpHost: env.HERALD_HTTP_HOST || '127.0.0.1',
    httpPort: intFrom(env.HERALD_HTTP_PORT, 9039, 'HERALD_HTTP_PORT'),
    tenants: tenants && tenants.length > 0 ? new Set(tenants) : undefined,
    jwtSecret: env.HERALD_JWT_SECRET || undefined,
    jwtPublicKeyFile: env.HERALD_JWT_PUBLIC_KEY_FILE ? path.resolve(env.HERALD_JWT_PUBLIC_KEY_FILE) : undefined,
    jwtJwksFile: env.HERALD_JWT_JWKS_FILE ? path.resolve(env.HERALD_JWT_JWKS_FILE) : undefined,
    instanceName: env.HERALD_INSTANCE_NAME || 'REGARDS',
    logLevel: env.HERALD_LOG_LEVEL || 'info',
    maxMessageBytes: intFrom(env.HERALD_MAX_MESSAGE_BYTES, 10 * 1024 * 1024, 'HERALD_MAX_MESSAGE_BYTES'),
    intakeBatchSize: intFrom(env.HERALD_INTAKE_BATCH_SIZE, 500, 'HERALD_INTAKE_BATCH_SIZE'),
    deliveryBatchSize: intFrom(env.HERALD_DELIVERY_BATCH_SIZE, 200, 'HERALD_DELIVERY_BATCH_SIZE'),
    historyRetentionDays: intFrom(env.HERALD_HISTORY_RETENTION_DAYS, 30, 'HERALD_HISTORY_RETENTION_DAYS'),
  })
}
