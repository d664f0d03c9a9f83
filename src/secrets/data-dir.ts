import fs from 'node:fs'
import path from 'node:path'
import { StartRefusal } from './start-refusal.ts'

/**
 * The data directory holds the PGlite database and the generated secrets (JWT secret, secret key): only
 * Herald's own user may enter it. Created 0700; an existing directory that the group or others may read,
 * write or enter refuses the start with the command that fixes it.
 */
export function prepareDataDir(dataDir: string): void {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const mode = fs.statSync(dataDir).mode & 0o777
  if ((mode & 0o077) !== 0) {
    throw new StartRefusal(
      `The data directory ${dataDir} is open to other users (mode ${mode.toString(8).padStart(4, '0')}); it holds the database and ` +
        `the secrets: run chmod -R go-rwx ${shellQuote(dataDir)} and start again`,
    )
  }
}

/**
 * Takes group and other permissions off every file and directory under `dir`; returns how many it changed.
 * PGlite's initial files are created 0666 whatever the umask (968 of 1,000 files of a new data directory,
 * measured with PGlite 0.5 at umask 022 and 077); the files it creates afterwards follow the umask.
 */
export function restrictToOwner(dir: string): number {
  let changed = 0
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name)
    if (entry.isSymbolicLink()) continue
    const mode = fs.statSync(file).mode & 0o777
    if ((mode & 0o077) !== 0) {
      fs.chmodSync(file, mode & 0o700)
      changed++
    }
    if (entry.isDirectory()) changed += restrictToOwner(file)
  }
  return changed
}

const shellQuote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`)
