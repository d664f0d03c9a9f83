import type { Command } from 'commander'
import { printTable } from './output.ts'
import { findPluginMetadata, listPluginMetadata, type PluginMetadata } from '../plugins/registry.ts'

const defaultText = (value: unknown) => (value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value))

function printPlugin(plugin: PluginMetadata): void {
  process.stdout.write(`${plugin.pluginId} ${plugin.version} (${plugin.kind === 'RULE' ? 'rule matcher' : 'recipient sender'}, ${plugin.author})\n${plugin.description}\n\n`)
  const rows = [['PARAMETER', 'TYPE', 'MANDATORY', 'DEFAULT', 'SECRET', 'DESCRIPTION']]
  for (const p of plugin.parameters) rows.push([p.name, p.type, p.optional ? '' : 'yes', defaultText(p.defaultValue), p.sensitive ? 'yes' : '', p.description])
  printTable(rows)
}

/** `herald plugins list|show`: the same answers as GET /api/v1/plugins and GET /api/v1/plugins/{pluginId}. */
export function registerPluginsCommands(program: Command): void {
  const plugins = program.command('plugins').description('recipient senders and rule matchers: list, show their parameters')
  plugins
    .command('list')
    .description('every plugin: id, kind, version, description')
    .option('--json', 'the JSON array GET /api/v1/plugins answers')
    .action((opts: { json?: boolean }) => {
      const all = listPluginMetadata()
      if (opts.json) process.stdout.write(`${JSON.stringify(all)}\n`)
      else printTable([['PLUGIN ID', 'KIND', 'VERSION', 'DESCRIPTION'], ...all.map((p) => [p.pluginId, p.kind, p.version, p.description])])
    })
  plugins
    .command('show')
    .description('one plugin and its parameters')
    .argument('<pluginId>', 'plugin id, e.g. WebhookSender')
    .option('--json', 'the JSON object GET /api/v1/plugins/{pluginId} answers')
    .action((pluginId: string, opts: { json?: boolean }) => {
      const plugin = findPluginMetadata(pluginId)
      if (!plugin) {
        process.stderr.write(`no plugin ${pluginId} (herald plugins list shows them)\n`)
        process.exitCode = 1
        return
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(plugin)}\n`)
      else printPlugin(plugin)
    })
}
