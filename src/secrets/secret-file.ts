import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { prepareDataDir } from './data-dir.ts'
import { StartRefusal } from './start-refusal.ts'

/** 32 bytes: the HS256 key size (RFC 7518 §3.2 asks for at least the hash size) and the AES-256 key size. */
export const MIN_SECRET_BYTES = 32

/**
 * The text of `<dataDir>/<name>`, generated on first use: 32 random bytes, base64url. A generated file is
 * written whole or not at all (temporary file, fsync, then published under its name, 0600), so a crash or a
 * second process starting at the same time never leaves a short or empty secret behind. An empty or
 * unreadable file refuses the start rather than being replaced: tokens and sealed secrets depend on it.
 */
export function readOrCreateSecretFile(dataDir: string, name: string, what: string, variable: string): string {
  const file = path.join(dataDir, name)
  prepareDataDir(dataDir)
  const existing = readIfPresent(file)
  if (existing !== undefined) {
    if (existing === '') throw new StartRefusal(`${file} (${what}) is empty: restore it from a backup, or delete it to generate a new one (or set ${variable})`)
    return existing
  }
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  const fd = fs.openSync(temporary, 'wx', 0o600)
  try {
    fs.writeSync(fd, `${randomBytes(MIN_SECRET_BYTES).toString('base64url')}\n`)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  try {
    // link, not rename: as atomic, but never replaces a secret another process published first.
    fs.linkSync(temporary, file)
    syncDirectory(dataDir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  } finally {
    fs.rmSync(temporary, { force: true })
  }
  return readIfPresent(file)!
}

function readIfPresent(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new StartRefusal(`${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): it must be readable by Herald's user only`)
  }
}

/** The new name survives a power loss once the directory itself is on disk. */
function syncDirectory(dir: string): void {
  const fd = fs.openSync(dir, 'r')
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}
