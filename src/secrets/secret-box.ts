import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto'
import type { Config } from '../config.ts'
import { readOrCreateSecretFile } from './secret-file.ts'
import { StartRefusal } from './start-refusal.ts'

export const SECRET_KEY_FILE = 'secret-key'

/**
 * A sealed value: `enc:v1:<key id>:<base64url(iv ‖ ciphertext ‖ tag)>`. No `@ / ? #` or space, so it can
 * stand for the password inside a URL. The key id (8 hex digits of an HMAC of the key, which reveals
 * nothing of it) tells a value sealed with another key from a damaged one.
 */
const SEALED = /^enc:v1:([0-9a-f]{8}):([A-Za-z0-9_-]+)$/
const IV_BYTES = 12
const TAG_BYTES = 16

export const isSealed = (value: unknown): value is string => typeof value === 'string' && SEALED.test(value)
export const sealedKeyId = (value: string): string | undefined => SEALED.exec(value)?.[1]

/** A sealed value that does not open: sealed with another key, or altered. */
export class SecretOpenError extends Error {
  override readonly name = 'SecretOpenError'
}

/**
 * AES-256-GCM with one key. `context` (tenant, configuration, parameter) is authenticated with the value,
 * so a sealed value copied into another recipient's row does not open there.
 *
 * @example const box = createSecretBox(randomBytes(32)); box.open(box.seal('s3cret', 't1/hook/secrets'), 't1/hook/secrets')
 */
export interface SecretBox {
  /** The key that seals. */
  readonly keyId: string
  /** Whether a value sealed with this key id opens (the sealing key, or the previous one during a key change). */
  opens(keyId: string): boolean
  seal(plain: string, context: string): string
  open(sealed: string, context: string): string
}

const keyIdOf = (key: Buffer) => createHmac('sha256', key).update('herald secret key id').digest('hex').slice(0, 8)

export function createSecretBox(key: Buffer, previous?: Buffer): SecretBox {
  for (const k of [key, previous]) if (k && k.length !== 32) throw new Error(`an AES-256 key is 32 bytes, got ${k.length}`)
  const keyId = keyIdOf(key)
  const keys = new Map([[keyId, key], ...(previous ? [[keyIdOf(previous), previous] as const] : [])])
  return Object.freeze({
    keyId,
    opens: (id: string) => keys.has(id),
    seal(plain: string, context: string): string {
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(context, 'utf8'))
      const body = Buffer.concat([iv, cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()])
      return `enc:v1:${keyId}:${body.toString('base64url')}`
    },
    open(sealed: string, context: string): string {
      const m = SEALED.exec(sealed)
      if (!m) throw new SecretOpenError('not a sealed value')
      const sealedWith = keys.get(m[1])
      if (!sealedWith) throw new SecretOpenError(`sealed with key ${m[1]}, this instance has key ${keyId}`)
      const body = Buffer.from(m[2], 'base64url')
      if (body.length < IV_BYTES + TAG_BYTES) throw new SecretOpenError('the sealed value is truncated')
      const decipher = createDecipheriv('aes-256-gcm', sealedWith, body.subarray(0, IV_BYTES))
        .setAAD(Buffer.from(context, 'utf8'))
        .setAuthTag(body.subarray(body.length - TAG_BYTES))
      try {
        return Buffer.concat([decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)), decipher.final()]).toString('utf8')
      } catch {
        throw new SecretOpenError('the sealed value does not authenticate (altered, or moved from another parameter)')
      }
    },
  })
}

/**
 * The key that seals secret parameters: HERALD_SECRET_KEY (32 bytes, base64: `openssl rand -base64 32`),
 * else `<dataDir>/secret-key`, generated on first use. Losing it loses the stored secrets: back it up.
 */
export function loadSecretBox(config: Pick<Config, 'secretKey' | 'dataDir'> & Partial<Pick<Config, 'secretKeyPrevious'>>): SecretBox {
  const key = config.secretKey !== undefined
    ? decodeKey(config.secretKey, 'HERALD_SECRET_KEY')
    : decodeKey(readOrCreateSecretFile(config.dataDir, SECRET_KEY_FILE, 'the key of the secrets stored in the database', 'HERALD_SECRET_KEY'), `${config.dataDir}/${SECRET_KEY_FILE}`)
  return createSecretBox(key, config.secretKeyPrevious === undefined ? undefined : decodeKey(config.secretKeyPrevious, 'HERALD_SECRET_KEY_PREVIOUS'))
}

function decodeKey(text: string, source: string): Buffer {
  const key = /^[A-Za-z0-9+/_-]{43}=?$/.test(text.trim()) ? Buffer.from(text.trim(), 'base64') : undefined
  if (!key || key.length !== 32) {
    throw new StartRefusal(`${source} must be 32 bytes in base64 (43 or 44 characters, openssl rand -base64 32), got ${text.trim().length} characters`)
  }
  return key
}
