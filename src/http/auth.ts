import { createHash, createHmac, createPublicKey, timingSafeEqual, verify, type KeyObject } from 'node:crypto'
import fs from 'node:fs'
import type { Config } from '../config.ts'
import { resolveJwtSecret } from '../secrets/jwt-secret.ts'
import type { Access, Principal, UserRole } from '../ops/principal.ts'
import { ERR_FORBIDDEN, ERR_TENANT_NOT_ACCEPTED, ERR_TOKEN_EXPIRED, ERR_TOKEN_INVALID, ERR_UNAUTHENTICATED, HeraldError } from '../errors.ts'

/**
 * Bearer tokens of the REST API: JWTs carrying `tenant`, `role` and `exp`, verified with node:crypto only.
 * HS256 with HERALD_JWT_SECRET (or a secret generated once into the data directory) is accepted while no
 * external issuer is configured; RS256/ES256 tokens of an external issuer are accepted when its public key
 * (PEM) or JWKS file is given, and HS256 along with them only when HERALD_JWT_ALLOW_HS256 says so.
 */

interface VerificationKey {
  kid: string | undefined
  alg: 'RS256' | 'ES256'
  key: KeyObject
}

/** What verification accepts: the keys, and the claims every token must carry. */
export interface TokenKeys {
  hs256: Buffer
  /** False when an external issuer is configured and HERALD_JWT_ALLOW_HS256 is not true. */
  hs256Accepted: boolean
  asymmetric: VerificationKey[]
  /** HERALD_JWT_ISSUER: the `iss` every token must carry, when set. */
  issuer: string | undefined
  /** HERALD_JWT_AUDIENCE: the `aud` every token must carry (or list), when set. */
  audience: string | undefined
  /** HERALD_TOKEN_MAX_LIFETIME: a token whose `exp` is further away than this is refused. */
  maxLifetimeSeconds: number
}

// REGARDS roles above ADMIN in its hierarchy (INSTANCE_ADMIN > PROJECT_ADMIN > ADMIN > EXPLOIT) carry its
// rights, so a token issued by a REGARDS authentication service for a project administrator works here.
const ROLE_OF: Record<string, UserRole> = { ADMIN: 'ADMIN', PROJECT_ADMIN: 'ADMIN', INSTANCE_ADMIN: 'ADMIN', EXPLOIT: 'EXPLOIT' }
const ALLOWED: Record<Access, readonly UserRole[]> = { read: ['ADMIN', 'EXPLOIT'], retry: ['ADMIN', 'EXPLOIT'], admin: ['ADMIN'] }

// Tokens are small: anything longer is refused before any decoding or cryptography.
const MAX_TOKEN_LENGTH = 8192
const CLOCK_LEEWAY_SECONDS = 30
export { resolveJwtSecret } from '../secrets/jwt-secret.ts'

function algorithmOf(key: KeyObject, declared: string | undefined, source: string): 'RS256' | 'ES256' {
  const type = key.asymmetricKeyType
  if (type === 'rsa' && (declared === undefined || declared === 'RS256')) return 'RS256'
  if (type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1' && (declared === undefined || declared === 'ES256')) return 'ES256'
  throw new Error(`${source}: only RSA keys (RS256) and P-256 EC keys (ES256) are supported, got ${type}${declared ? ` with alg ${declared}` : ''}`)
}

export type TokenConfig = Pick<
  Config,
  'jwtSecret' | 'dataDir' | 'jwtPublicKeyFile' | 'jwtJwksFile' | 'jwtIssuer' | 'jwtAudience' | 'jwtAllowHs256' | 'tokenMaxLifetimeSeconds'
>

/** Loads every verification key the configuration names; a bad key file stops the start with its reason. */
export function loadTokenKeys(config: TokenConfig): TokenKeys {
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
  return {
    hs256: resolveJwtSecret(config),
    // An external issuer is where tokens come from: a second, local way in (anyone who can read the data
    // directory or HERALD_JWT_SECRET mints tokens) stays closed unless the operator opens it on purpose.
    hs256Accepted: asymmetric.length === 0 || config.jwtAllowHs256,
    asymmetric,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    maxLifetimeSeconds: config.tokenMaxLifetimeSeconds,
  }
}

const b64json = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url')

/**
 * Signs an HS256 token for `herald token` and tests; it expires `expiresInSeconds` from `now`.
 *
 * @example signToken(secret, { tenant: 'project1', role: 'ADMIN' }, 3600)
 */
export function signToken(
  secret: Buffer,
  claims: { tenant: string; role: string; sub?: string; iss?: string; aud?: string },
  expiresInSeconds: number,
  now = Date.now(),
): string {
  const iat = Math.floor(now / 1000)
  const payload = { sub: claims.sub ?? 'herald-cli', ...claims, iat, exp: iat + expiresInSeconds }
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
  if (alg === 'HS256' && keys.hs256Accepted) {
    const expected = createHmac('sha256', keys.hs256).update(data).digest()
    return expected.length === signature.length && timingSafeEqual(expected, signature)
  }
  if (alg !== 'RS256' && alg !== 'ES256') return false
  const candidates = keys.asymmetric.filter((k) => k.alg === alg && (header.kid === undefined || k.kid === undefined || k.kid === header.kid))
  return candidates.some((k) =>
    verify('sha256', Buffer.from(data), alg === 'ES256' ? { key: k.key, dsaEncoding: 'ieee-p1363' } : k.key, signature),
  )
}

function acceptedAlgorithms(keys: TokenKeys): string {
  const algorithms = [...(keys.hs256Accepted ? ['HS256'] : []), ...new Set(keys.asymmetric.map((k) => k.alg))]
  return algorithms.join(', ')
}

/** Verifies a token and returns who it speaks for, or the problem to answer (401 or 403). */
export function verifyToken(keys: TokenKeys, token: string, now = Date.now()): Principal | HeraldError {
  if (token.length > MAX_TOKEN_LENGTH) return ERR_TOKEN_INVALID('the token is too long')
  const parts = token.split('.')
  if (parts.length !== 3) return ERR_TOKEN_INVALID('a JWT has three dot-separated parts')
  const header = parsePart(parts[0])
  const payload = parsePart(parts[1])
  if (!header || !payload) return ERR_TOKEN_INVALID('the token header or payload is not base64url JSON')
  if (header.alg === 'HS256' && !keys.hs256Accepted) {
    return ERR_TOKEN_INVALID('HS256 tokens are not accepted while an external issuer is configured (HERALD_JWT_ALLOW_HS256)')
  }
  if (!signatureMatches(keys, header, `${parts[0]}.${parts[1]}`, Buffer.from(parts[2], 'base64url'))) {
    return ERR_TOKEN_INVALID(`the signature does not verify (algorithms: ${acceptedAlgorithms(keys)})`)
  }
  const seconds = now / 1000
  if (typeof payload.exp !== 'number') return ERR_TOKEN_INVALID('the token has no exp claim: every token must expire')
  if (payload.exp + CLOCK_LEEWAY_SECONDS < seconds) return ERR_TOKEN_EXPIRED()
  if (payload.exp - seconds > keys.maxLifetimeSeconds + CLOCK_LEEWAY_SECONDS) {
    return ERR_TOKEN_INVALID(`the token is valid for longer than ${keys.maxLifetimeSeconds} s (HERALD_TOKEN_MAX_LIFETIME)`)
  }
  if (payload.nbf !== undefined && (typeof payload.nbf !== 'number' || payload.nbf - CLOCK_LEEWAY_SECONDS > seconds)) return ERR_TOKEN_INVALID('the token is not valid yet')
  if (keys.issuer !== undefined && payload.iss !== keys.issuer) return ERR_TOKEN_INVALID('the iss claim is not the configured issuer (HERALD_JWT_ISSUER)')
  if (keys.audience !== undefined && !(payload.aud === keys.audience || (Array.isArray(payload.aud) && payload.aud.includes(keys.audience)))) {
    return ERR_TOKEN_INVALID('the aud claim does not name this service (HERALD_JWT_AUDIENCE)')
  }
  if (typeof payload.tenant !== 'string' || payload.tenant === '') return ERR_TOKEN_INVALID('the token carries no tenant claim')
  const role = typeof payload.role === 'string' ? ROLE_OF[payload.role] : undefined
  if (!role) return ERR_FORBIDDEN(`role ${JSON.stringify(payload.role ?? null)} has no access to this API (roles: ADMIN, EXPLOIT)`)
  const subject = typeof payload.sub === 'string' ? payload.sub : typeof payload.user === 'string' ? payload.user : undefined
  return { tenant: payload.tenant, role, subject }
}

const BEARER = /^Bearer +([A-Za-z0-9_.~+/=-]+) *$/i

/** Who the `authorization` header speaks for, or the problem to answer (401, or 403 for an unknown role). */
export function authenticate(keys: TokenKeys, authorization: string | undefined): Principal | HeraldError {
  if (!authorization) return ERR_UNAUTHENTICATED()
  const m = BEARER.exec(authorization)
  if (!m) return ERR_TOKEN_INVALID('the authorization header must be "Bearer <token>"')
  return verifyToken(keys, m[1])
}

/** The problem to answer when the principal may not do what the route requires (403), else undefined. */
export function checkAccess(principal: Principal, tenants: ReadonlySet<string> | undefined, access: Access): HeraldError | undefined {
  if (tenants && !tenants.has(principal.tenant)) return ERR_TENANT_NOT_ACCEPTED(`tenant ${principal.tenant} is not in HERALD_TENANTS`)
  if (!ALLOWED[access].includes(principal.role)) return ERR_FORBIDDEN(`this operation requires the role ${ALLOWED[access].join(' or ')}`)
  return undefined
}

/**
 * True when the header carries the HERALD_METRICS_TOKEN. Both sides are hashed first, so the comparison
 * takes the same time whatever their lengths.
 */
export function metricsTokenMatches(expected: string, authorization: string | undefined): boolean {
  const given = authorization ? /^Bearer +(.+?) *$/i.exec(authorization)?.[1] : undefined
  if (given === undefined) return false
  const digest = (value: string) => createHash('sha256').update(value).digest()
  return timingSafeEqual(digest(given), digest(expected))
}
