import { spawn } from 'node:child_process'
import path from 'node:path'

const BIN = path.resolve(import.meta.dirname, '../../bin/herald.js')
// Each run imports Herald from the sources: seconds apiece, tens of seconds on a loaded 2-core machine.
const DEFAULT_TIMEOUT_MS = 120_000

/** How a `herald` run ended. */
export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

/**
 * The environment of a `herald` command against a test's storage and broker (neither for plugins): the configuration a running
 * Herald of the test reads, logs off; `extra` adds to it or overrides it. The broker is the test's, or without one
 * Herald's default: never the caller's HERALD_AMQP_URL.
 */
export function cliEnv(storage?: { databaseUrl?: string; dataDir: string }, amqpUrl?: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HERALD_LOG_LEVEL: 'silent' }
  if (amqpUrl) env.HERALD_AMQP_URL = amqpUrl
  else delete env.HERALD_AMQP_URL
  Object.assign(env, extra)
  if (!storage) return env
  env.HERALD_DATA_DIR = storage.dataDir
  // No database URL: the embedded PGlite of the data directory, whatever the caller's environment says.
  if (storage.databaseUrl) env.HERALD_DATABASE_URL = storage.databaseUrl
  else delete env.HERALD_DATABASE_URL
  return env
}

/**
 * Runs `herald <args>` (bin/herald.js) to its end with `env`, `input` on its stdin (closed at once when
 * absent), and answers its exit code and output: a refusal is an answer, not an exception; a run killed
 * (its timeout passed) is one.
 */
export function runHerald(args: string[], opts: { env: NodeJS.ProcessEnv; input?: string; timeoutMs?: number }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
    const child = spawn(process.execPath, [BIN, ...args], { env: opts.env, timeout: timeoutMs })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    // Killed by the timeout (or any signal) is no exit code: a test expecting a refusal must not pass on it.
    child.on('close', (code, signal) =>
      code === null ? reject(new Error(`herald ${args.join(' ')} ended by ${signal} (timeout ${timeoutMs} ms?); stderr: ${stderr.slice(-2000)}`)) : resolve({ code, stdout, stderr }),
    )
    child.stdin.end(opts.input ?? '')
  })
}
