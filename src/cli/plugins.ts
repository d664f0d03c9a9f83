import type { Command } from 'commander'
import type { Principal } from '../ops/principal.ts'
import { pluginsList } from '../ops/plugins-list.ts'
import { pluginsShow } from '../ops/plugins-show.ts'
import type { PluginMetadata } from '../plugins/registry.ts'
import { printJson, printTable } from './output.ts'
import { runCommand } from './run-operation.ts'

/** The operator at this machine (ADMIN, as cliPrincipal), of no tenant: plugins are Herald's. */
const OPERATOR: Pick<Principal, 'role'> = { role: 'ADMIN' }

const defaultText = (value: unknown) => (value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value))

function printPlugin(plugin: PluginMetadata): void {
  process.stdout.write(`${plugin.pluginId} ${plugin.version} (${plugin.kind === 'RULE' ? 'rule matcher' : 'recipient sender'}, ${plugin.author})\n${plugin.description}\n\n`)
  const rows = [['PARAMETER', 'TYPE', 'MANDATORY', 'DEFAULT', 'SECRET', 'DESCRIPTION']]
  for (const p of plugin.parameters) rows.push([p.name, p.type, p.optional ? '' : 'yes', defaultText(p.defaultValue), p.sensitive ? 'yes' : '', p.description])
  printTable(rows)
}

/** `herald plugins list|show`: the operations of src/ops/plugins-*.ts, as GET /api/v1/plugins and /api/v1/plugins/{pluginId}. */
export function registerPluginsCommands(program: Command): void {
  const plugins = program.command('plugins').description('recipient senders and rule matchers: list, show their parameters')
  plugins
    .command('list')
    .description('every plugin: id, kind, version, description')
    .option('--json', 'the JSON array GET /api/v1/plugins answers')
    .action((opts: { json?: boolean }) =>
      runCommand(() => {
        const all = pluginsList(OPERATOR)
        if (opts.json) printJson(all, true)
        else printTable([['PLUGIN ID', 'KIND', 'VERSION', 'DESCRIPTION'], ...all.map((p) => [p.pluginId, p.kind, p.version, p.description])])
      }),
    )
  plugins
    .command('show')
    .description('one plugin and its parameters')
    .argument('<pluginId>', 'plugin id, e.g. WebhookSender')
    .option('--json', 'the JSON object GET /api/v1/plugins/{pluginId} answers')
    .action((pluginId: string, opts: { json?: boolean }) =>
      runCommand(() => {
        const plugin = pluginsShow(OPERATOR, { pluginId })
        if (opts.json) printJson(plugin, true)
        else printPlugin(plugin)
      }),
    )
}
