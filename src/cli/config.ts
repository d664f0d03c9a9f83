import type { Command } from 'commander'
import type { NotifierConfigFile } from '../notifier/config-import.ts'
import { configurationExport } from '../ops/configuration-export.ts'
import { configurationImport } from '../ops/configuration-import.ts'
import { readJsonInput } from './output.ts'
import { runOperation } from './run-operation.ts'
import { printOperation, tenantCommand } from './tenant-command.ts'

/** `herald config import|export`: the operations of src/ops/configuration-*.ts, as POST and GET /api/v1/configuration. */
export function registerConfigCommands(program: Command): void {
  const configCommand = program.command('config').description('import or export the REGARDS notifier configuration (rules and recipients)')
  tenantCommand(configCommand, 'import', 'import a REGARDS notifier configuration file for a tenant (all or nothing)')
    .argument('<file>', 'JSON file in the REGARDS import format ("-" for stdin)')
    .option('--lenient', 'unknown parameter names are warnings (and left out) instead of errors, for files of other REGARDS versions')
    .action((file: string, opts: { tenant: string; lenient?: boolean }) =>
      runOperation(opts.tenant, async (deps, principal) => {
        const report = await configurationImport(deps, principal, { file: readJsonInput(file) as NotifierConfigFile, lenient: opts.lenient })
        for (const warning of report.warnings) process.stderr.write(`warning: ${warning}\n`)
        process.stdout.write(
          `imported ${report.plugins} plugin configurations and ${report.associations} rule associations for tenant ${opts.tenant}${report.reset ? ' (previous configuration and requests reset)' : ''}\n`,
        )
      }),
    )
  tenantCommand(configCommand, 'export', 'print a tenant configuration in the REGARDS import format, secrets masked')
    .action((opts: { tenant: string }) => printOperation(opts.tenant, (deps, principal) => configurationExport(deps, principal)))
}
