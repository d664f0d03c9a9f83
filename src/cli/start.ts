import { ConfigError, loadConfig, type Config } from '../config.ts'
import { createLogger } from '../log.ts'
import { startHerald, type Herald } from '../main.ts'
import type { Role } from '../roles.ts'
import { StartupError } from '../startup/wait-until-reachable.ts'

/** `herald start`: runs the roles until SIGTERM or SIGINT, then drains. */
export async function runStart(roles: Role[]): Promise<void> {
  const config = loadConfigOrExit()
  const log = createLogger(config.logLevel)
  // A rejected promise that nobody awaits must not take down a process with thousands of deliveries in
  // flight: every piece of work is leased in the database and resumes by itself, so the process goes on.
  // One was seen once in ~40 broker-drop runs, rejected with the connection's shared CONNECTION_FORCED
  // error inside the AMQP client. Logged with its stack and counted (from the start, once running).
  let herald: Herald | undefined
  let beforeStart = 0
  process.on('unhandledRejection', (reason) => {
    const error = String((reason as Error)?.stack ?? reason)
    log.error({ err: error }, 'unhandled promise rejection: logged, Herald keeps running')
    if (herald) herald.ctx.events.safeEmit('process:unhandled-rejection', { error })
    else beforeStart++
  })
  let stopping = false
  const onSignal = (signal: string) => {
    if (!herald) {
      // Still waiting for the broker or the database, or declaring: nothing is taken yet that a restart
      // would not take back (unacked messages return to their queues, leases expire).
      log.info({ signal }, 'stopping during start-up: exiting now')
      process.exit(0)
    }
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now')
      process.exit(1)
    }
    stopping = true
    log.info({ signal }, 'stopping: draining in-flight work')
    const force = setTimeout(() => {
      log.error('shutdown took more than 30 s: exiting')
      process.exit(1)
    }, 30_000)
    force.unref()
    herald.stop().then(() => process.exit(0))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    herald = await startHerald(config, roles, log)
  } catch (err) {
    if (err instanceof StartupError) {
      // Expected (a dependency down or refusing): one line; the stack only at debug level.
      log.debug({ err }, 'start-up failed')
      log.fatal(err.message)
    } else {
      log.fatal({ err }, 'Herald could not start')
    }
    process.exit(1)
  }
  for (; beforeStart > 0; beforeStart--) herald.ctx.events.safeEmit('process:unhandled-rejection', { error: 'during start' })
}

/** The configuration, or one line naming what is wrong with it and exit 1 (before any logger exists). */
function loadConfigOrExit(): Config {
  try {
    return loadConfig()
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`herald: ${err.message}\n`)
    process.exit(1)
  }
}
