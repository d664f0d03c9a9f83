import { createHmac, createPublicKey, randomBytes, timingSafeEqual, verify, type KeyObject } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { Config } from '../config.ts'
import { ERR_FORBIDDEN, ERR_TENANT_NOT_ACCEPTED, ERR_TOKEN_EXPIRED, ERR_TOKEN_INVALID, ERR_UNAUTHENTICATED, HttpProblem } from './errors.ts'

/**
 * Bearer tokens of the REST API: JWTs carrying `tenant` and `role`, verified with node:crypto only.
 * HS256 with HERALD_JWT_SECRET (or a secret generated once into the data directory) is always accepted;
 * RS256/ES256 tokens of an external issuer are accepted when its public key (PEM) or JWKS file is given.
 */

/** What a route may require. `read`: ADMIN or EXPLOIT; `retry`: ADMIN or EXPLOIT; `admin`: ADMIN only. */
export type Access = 'read' | 'retry' | 'admin'
export type Role = 'ADMIN' | 'EXPLOIT'

export interface Principal {
  tenant: string
  role: Role
  subject: string | undefined
}

interface VerificationKey {
  kid: string | undefined
  alg: 'RS256' | 'ES256'
  key: KeyObject
}

export interface TokenKeys {
  hs256: Buffer
  asymmetric: VerificationKey[]
}

// REGARDS roles above ADMIN in its hierarchy (INSTANCE_ADMIN > PROJECT_ADMIN > ADMIN > EXPLOIT) carry its
// rights, so a token issued by a REGARDS authentication service for a project administrator works here.
const ROLE_OF: Record<string, Role> = { ADMIN: 'ADMIN', PROJECT_ADMIN: 'ADMIN', INSTANCE_ADMIN: 'ADMIN', EXPLOIT: 'EXPLOIT' }
const ALLOWED: Record<Access, readonly Role[]> = { read: ['ADMIN', 'EXPLOIT'], retry: ['ADMIN', 'EXPLOIT'], admin: ['ADMIN'] }

// Tokens are small: anything longer is refused before any decoding or cryptography.
const MAX_TOKEN_LENGTH = 8192
const CLOCK_LEEWAY_SECONDS = 30
export const SECRET_FILE = 'jwt-secret'

/**
 * The HS256 secret: HERALD_JWT_SECRET, else `<dataDir>/jwt-secret`, created (mode 0600) on first use.
 * Instances that share a PostgreSQL but not a data directory must share HERALD_JWT_SECRET instead.
 */
export function resolveJwtSecret(config: Pick<Config, 'jwtSecret' | 'dataDir'>): Buffer {
  if (config.jwtSecret) return Buffer.from(config.jwtSecret, 'utf8')
  const file = path.join(config.dataDir, SECRET_FILE)
  try {
    return Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  fs.mkdirSync(config.dataDir, { recursive: true })
  try {
    fs.writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' })
  } catch (err) {
    // Another process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  return Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'utf8')
}

function algorithmOf(key: KeyObject, declared: string | undefined, source: string): 'RS256' | 'ES256' {
  const type = key.asymmetricKeyType
  if (type === 'rsa' && (declared === undefined || declared === 'RS256')) return 'RS256'
  if (type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1' && (declared === undefined || declared === 'ES256')) return 'ES256'
  throw new Error(`${source}: only RSA keys (RS256) and P-256 EC keys (ES256) are supported, got ${type}${declared ? ` with alg ${declared}` : ''}`)
}

/** Loads every verification key the configuration names; a bad key file stops the start with its reason. */
export function loadTokenKeys(config: Pick<Config, 'jwtSecret' | 'dataDir' | 'jwtPublicKeyFile' | 'jwtJwksFile'>): TokenKeys {
  const asymmetric: VerificationKey[] = []
  if (config.jwtPublicKeyFile) {
    const key = createPublicKey(fs.readFileSync(config.jwtPublicKeyFile, 'utf8'))
    asymmetric.push({ kid: undefined, alg: algorithmOf(key, undefined, config.jwtPublicKeyFile), key })
  }
  if (config.jwtJwksFile) {
    const jwks = JSON.parse(fs.readFileSync(config.jwtJwksFile, 'utf8')) as { keys?: Record<string, unknown>[] }
    if (!Array.isArray(jwks.keys)) throw new Error(`${config.jwtJwksFile}: a JWKS file must have a "keys" list`)
    for (const jwk of jwks.keys) {
      if (jwk.use !== undefined && jwk.use !== 'sig') continue
      const key = createPublicKey({ key: jwk as any, format: 'jwk' })
      asymmetric.push({ kid: typeof jwk.kid === 'string' ? jwk.kid : undefined, alg: algorithmOf(key, jwk.alg as string | undefined, config.jwtJwksFile), key })
    }
  }
  return { hs256: resolveJwtSecret(config), asymmetric }
}

const b64json = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url')

/**
 * Signs an HS256 token for `herald token` and tests.
 *
 * @example signToken(secret, { tenant: 'project1', role: 'ADMIN' }, 3600)
 */
export function signToken(secret: Buffer, claims: { tenant: string; role: string; sub?: string }, expiresInSeconds: number | undefined, now = Date.now()): string {
  const iat = Math.floor(now / 1000)
  const payload = { sub: claims.sub ?? 'herald-cli', ...claims, iat, ...(expiresInSeconds ? { exp: iat + expiresInSeconds } : {}) }
  const data = `${b64json({ alg: 'HS256', typ: 'JWT' })}.${b64json(payload)}`
  return `${data}.${createHmac('sha256', secret).update(data).digest('base64url')}`
}

function parsePart(part: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
    return value && typeof value === 'object' && !Array.isArray(value) ? value : undefined
  } catch {
    return undefined
  }
}

function signatureMatches(keys: TokenKeys, header: Record<string, unknown>, data: string, signature: Buffer): boolean {
  const alg = header.alg
  if (alg === 'HS256') {
    const expected = createHmac('sha256', keys.hs256).update(data).digest()
    return expected.length === signature.length && timingSafeEqual(expected, signature)
  }
  if (alg !== 'RS256' && alg !== 'ES256') return false
  const candidates = keys.asymmetric.filter((k) => k.alg === alg && (header.kid === undefined || k.kid === undefined || k.kid === header.kid))
  return candidates.some((k) =>
    verify('sha256', Buffer.from(data), alg === 'ES256' ? { key: k.key, dsaEncoding: 'ieee-p1363' } : k.key, signature),
  )
}

/** Verifies a token and returns who it speaks for, or the problem to answer (401 or 403). */
export function verifyToken(keys: TokenKeys, token: string, now = Date.now()): Principal | HttpProblem {
  if (token.length > MAX_TOKEN_LENGTH) return ERR_TOKEN_INVALID('the token is too long')
  const parts = token.split('.')
  if (parts.length !== 3) return ERR_TOKEN_INVALID('a JWT has three dot-separated parts')
  const header = parsePart(parts[0])
  const payload = parsePart(parts[1])
  if (!header || !payload) return ERR_TOKEN_INVALID('the token header or payload is not base64url JSON')
  if (!signatureMatches(keys, header, `${parts[0]}.${parts[1]}`, Buffer.from(parts[2], 'base64url'))) {
    return ERR_TOKEN_INVALID('the signature does not verify (algorithms: HS256, and RS256/ES256 when a public key is configured)')
  }
  const seconds = now / 1000
  if (payload.exp !== undefined && (typeof payload.exp !== 'number' || payload.exp + CLOCK_LEEWAY_SECONDS < seconds)) return ERR_TOKEN_EXPIRED()
  if (payload.nbf !== undefined && (typeof payload.nbf !== 'number' || payload.nbf - CLOCK_LEEWAY_SECONDS > seconds)) return ERR_TOKEN_INVALID('the token is not valid yet')
  if (typeof payload.tenant !== 'string' || payload.tenant === '') return ERR_TOKEN_INVALID('the token carries no tenant claim')
  const role = typeof payload.role === 'string' ? ROLE_OF[payload.role] : undefined
  if (!role) return ERR_FORBIDDEN(`role ${JSON.stringify(payload.role ?? null)} has no access to this API (roles: ADMIN, EXPLOIT)`)
  const subject = typeof payload.sub === 'string' ? payload.sub : typeof payload.user === 'string' ? payload.user : undefined
  return { tenant: payload.tenant, role, subject }
}

/** Authenticates the `authorization` header and checks the role against what the route requires. */
export function authorize(
  keys: TokenKeys,
  tenants: ReadonlySet<string> | undefined,
  authorization: string | undefined,
  access: Access,
): Principal | HttpProblem {
  if (!authorization) return ERR_UNAUTHENTICATED()
  const m = /^Bearer +([A-Za-z0-9_.~+/=-]+) *$/i.exec(authorization)
  if (!m) return ERR_TOKEN_INVALID('the authorization header must be "Bearer <token>"')
  const principal = verifyToken(keys, m[1])
  if (principal instanceof HttpProblem) return principal
  return admit(principal, tenants, access)
}

/** Whether an authenticated principal may call a route: its tenant is served and its role suffices. */
export function admit(principal: Principal, tenants: ReadonlySet<string> | undefined, access: Access): Principal | HttpProblem {
  if (tenants && !tenants.has(principal.tenant)) return ERR_TENANT_NOT_ACCEPTED(`tenant ${principal.tenant} is not in HERALD_TENANTS`)
  if (!ALLOWED[access].includes(principal.role)) return ERR_FORBIDDEN(`this operation requires the role ${ALLOWED[access].join(' or ')}`)
  return principal
}
