import { execFile, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openPglite } from '../src/db/client.ts'
import { prepareDataDir } from '../src/secrets/data-dir.ts'
import { resolveJwtSecret } from '../src/secrets/jwt-secret.ts'
import { loadSecretBox } from '../src/secrets/secret-box.ts'
import { StartRefusal } from '../src/secrets/start-refusal.ts'
import { BACKENDS, createTestStorage, createVhost, type TestStorage } from './support/services.ts'

const run = promisify(execFile)
const BIN = path.resolve(import.meta.dirname, '../bin/herald.js')
// A Herald process takes 5-15 s to start on an idle 2-core machine, over a minute when the machine is shared.
const PROCESS_TIMEOUT_MS = 180_000
const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'herald-datadir-'))

/** Files and directories under `dir` that the group or others may access, with their modes. */
function openToOthers(dir: string): string[] {
  const found: string[] = []
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const file = path.join(d, entry.name)
      const mode = fs.lstatSync(file).mode & 0o777
      if (!entry.isSymbolicLink() && (mode & 0o077) !== 0) found.push(`${mode.toString(8)} ${path.relative(dir, file)}`)
      if (entry.isDirectory()) walk(file)
    }
  }
  walk(dir)
  return found
}

/** `herald start` until it exits (a refusal) or logs that it started, then SIGTERM. */
function startProcess(env: Record<string, string>, roles = 'notifier'): Promise<{ code: number | null; lines: string[]; stderr: string; started: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'start', '--roles', roles], { env: { ...process.env, HERALD_LOG_LEVEL: 'info', HERALD_HTTP_PORT: '0', ...env } })
    let stdout = ''
    let stderr = ''
    let started = false
    child.stdout.on('data', (chunk) => {
      stdout += chunk
      if (!started && stdout.includes('"Herald started"')) {
        started = true
        child.kill('SIGTERM')
      }
    })
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('exit', (code) => resolve({ code, lines: stdout.trim().split('\n').filter(Boolean), stderr, started }))
  })
}

describe('data directory and generated secrets', () => {
  it('creates the data directory 0700 and refuses one that others may enter, giving the chmod to run', () => {
    const parent = tmpDir()
    const dataDir = path.join(parent, 'nested', '.herald')
    prepareDataDir(dataDir)
    expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700)
    fs.chmodSync(dataDir, 0o755)
    expect(() => prepareDataDir(dataDir)).toThrow(StartRefusal)
    expect(() => prepareDataDir(dataDir)).toThrow(`The data directory ${dataDir} is open to other users (mode 0755); it holds the database and the secrets: run chmod -R go-rwx ${dataDir} and start again`)
    fs.chmodSync(dataDir, 0o750)
    expect(() => prepareDataDir(dataDir)).toThrow(/mode 0750/)
  })

  it('leaves no PGlite file open to the group or others', async () => {
    const dataDir = path.join(tmpDir(), 'pglite')
    const database = await openPglite(dataDir)
    try {
      expect(openToOthers(dataDir)).toEqual([])
    } finally {
      await database.close()
    }
  })

  it('generates the HS256 secret and the secret key once, 0600, whole; refuses empty, short or malformed ones', () => {
    const dataDir = tmpDir()
    const secret = resolveJwtSecret({ jwtSecret: undefined, dataDir })
    const box = loadSecretBox({ secretKey: undefined, dataDir })
    for (const name of ['jwt-secret', 'secret-key']) {
      expect(fs.statSync(path.join(dataDir, name)).mode & 0o777).toBe(0o600)
      expect(fs.readFileSync(path.join(dataDir, name), 'utf8')).toMatch(/^[A-Za-z0-9_-]{43}\n$/)
    }
    expect(fs.readdirSync(dataDir).sort()).toEqual(['jwt-secret', 'secret-key'])
    expect(secret.length).toBeGreaterThanOrEqual(32)
    expect(resolveJwtSecret({ jwtSecret: undefined, dataDir }).equals(secret)).toBe(true)
    expect(loadSecretBox({ secretKey: undefined, dataDir }).keyId).toBe(box.keyId)

    expect(() => resolveJwtSecret({ jwtSecret: 'a', dataDir })).toThrow('HERALD_JWT_SECRET is 1 bytes long; the HS256 secret must be at least 32 bytes (openssl rand -base64 32)')
    expect(() => resolveJwtSecret({ jwtSecret: 'x'.repeat(31), dataDir })).toThrow(StartRefusal)
    expect(resolveJwtSecret({ jwtSecret: 'x'.repeat(32), dataDir }).length).toBe(32)
    fs.writeFileSync(path.join(dataDir, 'jwt-secret'), 'short\n')
    expect(() => resolveJwtSecret({ jwtSecret: undefined, dataDir })).toThrow(`${dataDir}/jwt-secret is 5 bytes long`)
    fs.writeFileSync(path.join(dataDir, 'jwt-secret'), '\n')
    expect(() => resolveJwtSecret({ jwtSecret: undefined, dataDir })).toThrow(`${dataDir}/jwt-secret (the HS256 secret of API tokens) is empty`)
    fs.writeFileSync(path.join(dataDir, 'secret-key'), '')
    expect(() => loadSecretBox({ secretKey: undefined, dataDir })).toThrow(/secret-key .* is empty/)
    expect(() => loadSecretBox({ secretKey: 'not-a-key', dataDir })).toThrow('HERALD_SECRET_KEY must be 32 bytes in base64 (43 or 44 characters, openssl rand -base64 32), got 9 characters')
    expect(loadSecretBox({ secretKey: Buffer.alloc(32, 7).toString('base64'), dataDir }).keyId).toMatch(/^[0-9a-f]{8}$/)
  })
})

for (const backend of BACKENDS) {
  describe(`${backend}: herald start and the data directory`, () => {
    let storage: TestStorage
    let vhost: Awaited<ReturnType<typeof createVhost>>
    let env: Record<string, string>
    beforeAll(async () => {
      storage = await createTestStorage(backend)
      vhost = await createVhost()
      env = { HERALD_AMQP_URL: vhost.url, HERALD_DATABASE_URL: storage.databaseUrl ?? '', HERALD_DATA_DIR: path.join(storage.dataDir, 'data') }
    })
    afterAll(async () => {
      await vhost?.drop()
      await storage?.drop()
    })

    it('starts on a new data directory that only its user can reach, files included', async () => {
      const started = await startProcess(env)
      expect([started.started, started.stderr]).toEqual([true, ''])
      expect(fs.statSync(env.HERALD_DATA_DIR).mode & 0o777).toBe(0o700)
      expect(openToOthers(env.HERALD_DATA_DIR)).toEqual([])
    }, PROCESS_TIMEOUT_MS)

    it('refuses, in one line and without a stack, a data directory others can enter or a short HERALD_JWT_SECRET', async () => {
      fs.chmodSync(env.HERALD_DATA_DIR, 0o755)
      const open = await startProcess({ ...env, HERALD_LOG_LEVEL: 'warn' })
      expect([open.code, open.lines.length, open.stderr]).toEqual([1, 1, ''])
      expect(JSON.parse(open.lines[0])).toMatchObject({ level: 60, msg: expect.stringContaining(`run chmod -R go-rwx ${env.HERALD_DATA_DIR} and start again`) })
      fs.chmodSync(env.HERALD_DATA_DIR, 0o700)

      const short = await startProcess({ ...env, HERALD_LOG_LEVEL: 'warn', HERALD_JWT_SECRET: 'a' }, 'notifier,http')
      expect([short.code, short.lines.length, short.stderr]).toEqual([1, 1, ''])
      expect(JSON.parse(short.lines[0])).toMatchObject({ level: 60, msg: 'HERALD_JWT_SECRET is 1 bytes long; the HS256 secret must be at least 32 bytes (openssl rand -base64 32)' })
    }, PROCESS_TIMEOUT_MS)
  })
}
