import fs from 'node:fs'
import type { Command } from 'commander'
import { withAdminDatabase } from './admin-database.ts'
import { HeraldError } from '../errors.ts'
import { maskSecrets, restoreMaskedSecrets } from '../secrets/mask-secrets.ts'
import { createLogger } from '../log.ts'
import { exportNotifierConfig } from '../notifier/config-export.ts'
import { ConfigImportError, importNotifierConfig, PLUGIN_CONFIGURATION_KEY } from '../notifier/config-import.ts'
import { sealStoredSecrets } from '../secrets/seal-stored-secrets.ts'
import { loadSecretBox } from '../secrets/secret-box.ts'
import { StartRefusal } from '../secrets/start-refusal.ts'

export function registerConfigCommands(program: Command): void {
  const configCommand = program.command('config').description('import or export the REGARDS notifier configuration (rules and recipients)')
  configCommand
    .command('import')
    .description('import a REGARDS notifier configuration file for a tenant (all or nothing)')
    .requiredOption('--tenant <tenant>', 'tenant')
    .argument('<file>', 'JSON file in the REGARDS import format ("-" for stdin)')
    .option('--lenient', 'unknown parameter names are warnings (and left out) instead of errors, for files of other REGARDS versions')
    .action(async (file: string, opts: { tenant: string; lenient?: boolean }) => {
      const text = fs.readFileSync(file === '-' ? 0 : file, 'utf8')
      let parsed: unknown
      try {
        parsed = JSON.parse(text)
      } catch (err) {
        console.error(`${file} is not JSON: ${(err as Error).message}`)
        process.exit(2)
      }
      try {
        const report = await withAdminDatabase(async (db, config) => {
          const secrets = loadSecretBox(config)
          // Refuses a key other than the one the stored secrets were sealed with, before sealing more with it.
          await sealStoredSecrets(db, secrets, createLogger('warn'))
          return importNotifierConfig(db, secrets, opts.tenant, await restoreMaskedSecrets(db, secrets, opts.tenant, parsed as any), { lenient: opts.lenient, crossTenantPublish: config.crossTenantPublish })
        })
        for (const warning of report.warnings) console.error(`warning: ${warning}`)
        console.log(`imported ${report.plugins} plugin configurations and ${report.associations} rule associations for tenant ${opts.tenant}${report.reset ? ' (previous configuration and requests reset)' : ''}`)
      } catch (err) {
        if (err instanceof ConfigImportError) {
          console.error('configuration not imported, nothing changed:')
          for (const e of err.errors) console.error(`  - ${e}`)
          process.exit(1)
        }
        if (err instanceof HeraldError || err instanceof StartRefusal) {
          console.error(`configuration not imported, nothing changed: ${err instanceof HeraldError ? err.detail : err.message}`)
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
      const file = await withAdminDatabase((db) => exportNotifierConfig(db, opts.tenant))
      // Also masks passwords inside URLs (amqp://user:pass@…), as the REST export does.
      for (const entry of file.modules[0].configuration) {
        if (entry.key === PLUGIN_CONFIGURATION_KEY) entry.value.parameters = maskSecrets(entry.value.pluginId, entry.value.parameters)
      }
      process.stdout.write(`${JSON.stringify(file, null, 2)}\n`)
    })
}
