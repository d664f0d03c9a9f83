import fs from 'node:fs'
import { Command, InvalidArgumentError } from 'commander'
import { ConfigError, loadConfig, type Config } from '../config.ts'
import { migrateOrThrow } from '../db/migrate.ts'
import { createLogger } from '../log.ts'
import { openDatabase, ROLES, startHerald, type Herald, type Role } from '../main.ts'
import { exportNotifierConfig } from '../notifier/config-export.ts'
import { ConfigImportError, importNotifierConfig, PLUGIN_CONFIGURATION_KEY } from '../notifier/config-import.ts'
import { runRulesTest } from './rules-test.ts'
import { catalogCommand } from '../catalog/cli.ts'
import { maskSecrets, restoreMaskedSecrets } from '../http/secrets.ts'
import { registerConsoleCommand } from './console.ts'
import { registerDlqCommands } from './dlq.ts'
import { registerRecipientsCommands } from './recipients.ts'
import { registerRequestsCommands } from './requests.ts'
import { registerTokenCommand } from './token.ts'

const program = new Command('herald').description('Product dissemination service, wire-compatible with the REGARDS notifier AMQP API')

function parseRoles(value: string): Role[] {
  const roles = value.split(',').map((r) => r.trim()).filter(Boolean)
  for (const role of roles) if (!ROLES.includes(role as Role)) throw new InvalidArgumentError(`unknown role ${role} (roles: ${ROLES.join(', ')})`)
  return roles as Role[]
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

program
  .command('start')
  .description('run Herald (all roles by default)')
  .option('--roles <roles>', `comma-separated roles among ${ROLES.join(', ')}`, parseRoles, [...ROLES])
  .action(async (opts: { roles: Role[] }) => {
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
    const started = await startHerald(config, opts.roles, log)
    herald = started
    for (; beforeStart > 0; beforeStart--) started.ctx.events.safeEmit('process:unhandled-rejection', { error: 'during start' })
    let stopping = false
    const onSignal = (signal: string) => {
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
      started.stop().then(() => process.exit(0))
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })

/** Opens the configured database, migrated, for a one-shot command. */
async function withDatabase<T>(fn: (db: Awaited<ReturnType<typeof openDatabase>>['db']) => Promise<T>): Promise<T> {
  const database = await openDatabase(loadConfig())
  try {
    await migrateOrThrow(database.db)
    return await fn(database.db)
  } finally {
    await database.close()
  }
}

const configCommand = program.command('config').description('import or export the REGARDS notifier configuration (rules and recipients)')
configCommand
  .command('import')
  .description('import a REGARDS notifier configuration file for a tenant (all or nothing)')
  .requiredOption('--tenant <tenant>', 'tenant')
  .argument('<file>', 'JSON file in the REGARDS import format ("-" for stdin)')
  .action(async (file: string, opts: { tenant: string }) => {
    const text = fs.readFileSync(file === '-' ? 0 : file, 'utf8')
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (err) {
      console.error(`${file} is not JSON: ${(err as Error).message}`)
      process.exit(2)
    }
    try {
      const report = await withDatabase(async (db) => importNotifierConfig(db, opts.tenant, await restoreMaskedSecrets(db, opts.tenant, parsed as any)))
      console.log(`imported ${report.plugins} plugin configurations and ${report.associations} rule associations for tenant ${opts.tenant}${report.reset ? ' (previous configuration and requests reset)' : ''}`)
    } catch (err) {
      if (err instanceof ConfigImportError) {
        console.error('configuration not imported, nothing changed:')
        for (const e of err.errors) console.error(`  - ${e}`)
        process.exit(1)
      }
      throw err
    }
  })
configCommand
  .command('export')
  .description('print a tenant configuration in the REGARDS import format')
  .requiredOption('--tenant <tenant>', 'tenant')
  .action(async (opts: { tenant: string }) => {
    const file = await withDatabase((db) => exportNotifierConfig(db, opts.tenant))
    // Also masks passwords inside URLs (amqp://user:pass@…), as the REST export does.
    for (const entry of file.modules[0].configuration) {
      if (entry.key === PLUGIN_CONFIGURATION_KEY) entry.value.parameters = maskSecrets(entry.value.parameters)
    }
    process.stdout.write(`${JSON.stringify(file, null, 2)}\n`)
  })

program
  .command('rules')
  .description('rule matchers')
  .command('test')
  .description('read JSON lines {"rule", "metadata", "payload"} on stdin, write {"match": …} or {"error": …} per line')
  .action(async () => {
    await runRulesTest(process.stdin, process.stdout)
  })

registerTokenCommand(program)
registerRequestsCommands(program)
registerRecipientsCommands(program)
registerDlqCommands(program)
registerConsoleCommand(program)
program.addCommand(catalogCommand())

await program.parseAsync(process.argv)
