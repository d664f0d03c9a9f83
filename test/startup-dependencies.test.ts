import { spawn } from 'node:child_process'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AMQP_BASE_URL, createTestStorage, createVhost, freePort, PG_ADMIN_URL, uniqueName, type TestStorage } from './support/services.ts'

const BIN = path.resolve(import.meta.dirname, '../bin/herald.js')

interface Outcome {
  code: number | null
  stdout: string
  stderr: string
  /** Log lines at warn level and above, as pino wrote them. */
  problems: { level: number; msg: string }[]
  /** From spawn to exit. */
  elapsedMs: number
  /** From the signal (when one was sent) to exit. */
  afterSignalMs?: number
}

/**
 * Runs a real `herald start` with the given environment until it exits; `signalOn` sends SIGTERM once a
 * log line matches it.
 */
function heraldStart(env: Record<string, string>, signalOn?: RegExp): Promise<Outcome> {
  const started = Date.now()
  const child = spawn(process.execPath, [BIN, 'start'], {
    env: { ...process.env, HERALD_HTTP_PORT: '0', HERALD_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  let signalledAt: number | undefined
  child.stdout.on('data', (chunk) => {
    stdout += chunk
    if (signalOn && signalledAt === undefined && signalOn.test(stdout)) {
      signalledAt = Date.now()
      child.kill('SIGTERM')
    }
  })
  child.stderr.on('data', (chunk) => (stderr += chunk))
  return new Promise((resolve) =>
    child.once('close', (code) => {
      const problems = stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { level: number; msg: string })
        .filter((line) => line.level >= 40)
        .map(({ level, msg }) => ({ level, msg }))
      const exited = Date.now()
      resolve({ code, stdout, stderr, problems, elapsedMs: exited - started, afterSignalMs: signalledAt === undefined ? undefined : exited - signalledAt })
    }),
  )
}

/** No stack trace anywhere: an unreachable or refusing dependency is an expected condition. */
function expectNoStack(outcome: Outcome) {
  expect(outcome.stdout + outcome.stderr).not.toMatch(/\n\s+at |"stack"/)
  expect(outcome.stderr).toBe('')
}

const WARN = 40
const FATAL = 60

// Starting from the sources takes up to ~35 s on the shared 2-core machine under load: generous bounds.
describe('herald start with a dependency missing or refusing', { timeout: 180_000 }, () => {
  let storage: TestStorage
  let vhost: Awaited<ReturnType<typeof createVhost>>
  let closedPort: number
  beforeAll(async () => {
    storage = await createTestStorage('postgres')
    vhost = await createVhost()
    // Nothing listens there: connections are refused.
    closedPort = await freePort()
  })
  afterAll(async () => {
    await storage?.drop()
    await vhost?.drop()
  })
  const database = () => ({ HERALD_DATABASE_URL: storage.databaseUrl!, HERALD_DATA_DIR: storage.dataDir })

  it('names an unreachable broker in one line, retries until HERALD_STARTUP_TIMEOUT_S, then exits 1 with one line', async () => {
    const outcome = await heraldStart({ ...database(), HERALD_AMQP_URL: `amqp://guest:s3cret-pw@127.0.0.1:${closedPort}`, HERALD_STARTUP_TIMEOUT_S: '3' })
    expect(outcome.code).toBe(1)
    expect(outcome.problems).toEqual([
      { level: WARN, msg: `RabbitMQ at 127.0.0.1:${closedPort}: connection refused; retrying for up to 3 s` },
      { level: FATAL, msg: `RabbitMQ at 127.0.0.1:${closedPort}: connection refused; gave up after 3 s (HERALD_STARTUP_TIMEOUT_S)` },
    ])
    expect(outcome.stdout).not.toContain('s3cret-pw')
    expectNoStack(outcome)
  })

  it('exits at once on SIGTERM while it waits for the broker', async () => {
    const outcome = await heraldStart({ ...database(), HERALD_AMQP_URL: `amqp://guest:guest@127.0.0.1:${closedPort}`, HERALD_STARTUP_TIMEOUT_S: '60' }, /connection refused; retrying/)
    expect(outcome.code).toBe(0)
    // Generous for a busy machine: waiting on would take the 60 s of the timeout.
    expect(outcome.afterSignalMs).toBeLessThan(3000)
    expect(outcome.problems).toEqual([{ level: WARN, msg: `RabbitMQ at 127.0.0.1:${closedPort}: connection refused; retrying for up to 60 s` }])
    expectNoStack(outcome)
  })

  // Retrying cannot help with the next ones: refused at once, in one line, long before the 600 s timeout.
  it('refuses a vhost the broker does not have at once', async () => {
    const missing = uniqueName('herald-missing')
    const outcome = await heraldStart({ ...database(), HERALD_AMQP_URL: `${AMQP_BASE_URL}/${missing}`, HERALD_STARTUP_TIMEOUT_S: '600' })
    expect(outcome.code).toBe(1)
    expect(outcome.problems).toEqual([{ level: FATAL, msg: `RabbitMQ at 127.0.0.1:5672: vhost ${missing} refused (NOT_ALLOWED - vhost ${missing} not found)` }])
    expect(outcome.elapsedMs).toBeLessThan(150_000)
    expectNoStack(outcome)
  })

  it('refuses wrong broker credentials at once, without printing the password', async () => {
    const url = new URL(vhost.url)
    url.password = 'wr0ng-pw'
    const outcome = await heraldStart({ ...database(), HERALD_AMQP_URL: url.toString(), HERALD_STARTUP_TIMEOUT_S: '600' })
    expect(outcome.code).toBe(1)
    expect(outcome.problems).toHaveLength(1)
    expect(outcome.problems[0].level).toBe(FATAL)
    expect(outcome.problems[0].msg).toMatch(/^RabbitMQ at 127\.0\.0\.1:5672: login refused for user guest \(ACCESS_REFUSED - Login was refused/)
    expect(outcome.stdout).not.toContain('wr0ng-pw')
    expect(outcome.elapsedMs).toBeLessThan(150_000)
    expectNoStack(outcome)
  })

  it('refuses a database that does not exist at once', async () => {
    const url = new URL(PG_ADMIN_URL)
    url.pathname = `/${uniqueName('herald_missing')}`
    const outcome = await heraldStart({ HERALD_DATABASE_URL: url.toString(), HERALD_DATA_DIR: storage.dataDir, HERALD_AMQP_URL: vhost.url, HERALD_STARTUP_TIMEOUT_S: '600' })
    expect(outcome.code).toBe(1)
    expect(outcome.problems).toEqual([{ level: FATAL, msg: `PostgreSQL at 127.0.0.1:5432: database "${url.pathname.slice(1)}" does not exist` }])
    expect(outcome.elapsedMs).toBeLessThan(150_000)
    expectNoStack(outcome)
  })

  it('refuses a database user that does not exist at once, without printing the password', async () => {
    const user = uniqueName('nobody')
    const url = new URL(storage.databaseUrl!)
    url.username = user
    url.password = 'pg-s3cret'
    const outcome = await heraldStart({ HERALD_DATABASE_URL: url.toString(), HERALD_DATA_DIR: storage.dataDir, HERALD_AMQP_URL: vhost.url, HERALD_STARTUP_TIMEOUT_S: '600' })
    expect(outcome.code).toBe(1)
    expect(outcome.problems).toEqual([{ level: FATAL, msg: `PostgreSQL at 127.0.0.1:5432: role "${user}" does not exist` }])
    expect(outcome.stdout).not.toContain('pg-s3cret')
    expectNoStack(outcome)
  })

  it('names an unreachable database in one line, retries, then exits 1 with one line', async () => {
    const outcome = await heraldStart({
      HERALD_DATABASE_URL: `postgres://postgres:pg-s3cret@127.0.0.1:${closedPort}/herald`,
      HERALD_DATA_DIR: storage.dataDir,
      HERALD_AMQP_URL: vhost.url,
      HERALD_STARTUP_TIMEOUT_S: '2',
    })
    expect(outcome.code).toBe(1)
    expect(outcome.problems).toEqual([
      { level: WARN, msg: `PostgreSQL at 127.0.0.1:${closedPort}: connection refused; retrying for up to 2 s` },
      { level: FATAL, msg: `PostgreSQL at 127.0.0.1:${closedPort}: connection refused; gave up after 2 s (HERALD_STARTUP_TIMEOUT_S)` },
    ])
    expect(outcome.stdout).not.toContain('pg-s3cret')
    expectNoStack(outcome)
  })
})
