import { Type, type TSchema } from 'typebox'
import { POLICY_PARAMETERS } from '../senders/policy.ts'
import type { PluginDeclaration } from './declaration.ts'
import { parameterMetadata, PLUGINS, type ParameterMetadata } from './registry.ts'

/**
 * The parameter tables of docs/senders.md and docs/rules.md, generated from the declarations between
 * `<!-- parameters ID -->` and `<!-- /parameters -->` (ID: a plugin id, or `policy` for the delivery policy
 * every sender shares, left out of the senders' own tables). `node --import tsx scripts/plugin-docs.ts`
 * rewrites them; test/plugins-docs.test.ts fails when they differ from the declarations.
 */
const BLOCK = /(<!-- parameters ([A-Za-z]+) -->\n)[\s\S]*?(<!-- \/parameters -->)/g

const code = (value: unknown) => `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``

function meaning(p: ParameterMetadata): string {
  const c = p.constraints ?? {}
  const parts = [p.description]
  if (c.enum) parts.push(`One of ${c.enum.map(code).join(', ')}.`)
  if (c.minimum !== undefined && c.maximum !== undefined) parts.push(`${c.minimum} to ${c.maximum}.`)
  else if (c.minimum !== undefined) parts.push(`At least ${c.minimum}.`)
  if (c.formatDescription) parts.push(`Must be ${c.formatDescription}.`)
  if (p.sensitive) parts.push('**Secret**: masked in every answer and export.')
  return parts.join(' ').replace(/\|/g, '\\|')
}

function table(parameters: ParameterMetadata[]): string {
  const rows = parameters.map((p) => `| \`${p.name}\` | ${p.type} | ${p.optional ? (p.defaultValue === undefined ? '–' : code(p.defaultValue)) : '**mandatory**'} | ${meaning(p)} |`)
  return ['| Name | Type | Default | Meaning |', '|---|---|---|---|', ...rows, ''].join('\n')
}

function parametersOf(id: string): ParameterMetadata[] {
  const declaration: Pick<PluginDeclaration, 'parameters'> | undefined = id === 'policy' ? { parameters: Type.Object(POLICY_PARAMETERS) } : PLUGINS.get(id)
  if (!declaration) throw new Error(`<!-- parameters ${id} -->: no such plugin`)
  const required = new Set<string>(declaration.parameters.required ?? [])
  const shared = id === 'policy' ? new Set<string>() : new Set(Object.keys(POLICY_PARAMETERS))
  return Object.entries(declaration.parameters.properties as Record<string, TSchema>)
    .filter(([name]) => !shared.has(name))
    .map(([name, schema]) => parameterMetadata(name, schema, !required.has(name)))
}

/** The markdown with every parameter block regenerated. */
export function renderParameterTables(markdown: string): string {
  return markdown.replace(BLOCK, (_m, open: string, id: string, close: string) => `${open}${table(parametersOf(id))}${close}`)
}
