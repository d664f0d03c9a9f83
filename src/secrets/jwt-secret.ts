import type { Config } from '../config.ts'
import { MIN_SECRET_BYTES, readOrCreateSecretFile } from './secret-file.ts'
import { StartRefusal } from './start-refusal.ts'

export const JWT_SECRET_FILE = 'jwt-secret'

/**
 * The HS256 secret of API tokens: HERALD_JWT_SECRET, else `<dataDir>/jwt-secret`, generated on first use.
 * Either must be at least 32 bytes: a shorter one is refused, since anyone who guesses it signs tokens.
 * Instances that share a PostgreSQL but not a data directory must share HERALD_JWT_SECRET instead.
 */
export function resolveJwtSecret(config: Pick<Config, 'jwtSecret' | 'dataDir'>): Buffer {
  const [secret, source] = config.jwtSecret !== undefined
    ? [config.jwtSecret, 'HERALD_JWT_SECRET']
    : [readOrCreateSecretFile(config.dataDir, JWT_SECRET_FILE, 'the HS256 secret of API tokens', 'HERALD_JWT_SECRET'), `${config.dataDir}/${JWT_SECRET_FILE}`]
  const bytes = Buffer.from(secret, 'utf8')
  if (bytes.length < MIN_SECRET_BYTES) {
    throw new StartRefusal(`${source} is ${bytes.length} bytes long; the HS256 secret must be at least ${MIN_SECRET_BYTES} bytes (openssl rand -base64 32)`)
  }
  return bytes
}
