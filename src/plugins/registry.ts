import type { TSchema } from 'typebox'
import { DEFAULT_RULE_MATCHER } from '../rules/default-rule-matcher.ts'
import { LUCENE_RULE_MATCHER } from '../rules/lucene-rule-matcher.ts'
import { SENDER_PLUGINS } from '../senders/registry.ts'
import { FORMAT_DESCRIPTIONS, isSensitive, regardsType, type PluginDeclaration, type PluginKind, type RegardsType } from './declaration.ts'

/** Every plugin Herald knows: the recipient senders, then the rule matchers. */
export const PLUGINS: ReadonlyMap<string, PluginDeclaration> = new Map(
  [...[...SENDER_PLUGINS.values()].map((p) => p.declaration), DEFAULT_RULE_MATCHER, LUCENE_RULE_MATCHER].map((d) => [d.pluginId, d]),
)

/** Whether a plugin id is a rule matcher or a recipient sender; undefined when Herald does not know it. */
export const pluginKind = (pluginId: string): PluginKind | undefined => PLUGINS.get(pluginId)?.kind

/**
 * Whether a parameter's value is a secret (masked in every answer and export): declared `sensitive`, or
 * not declared at all (an unknown plugin, or a row stored before parameters were checked), since a
 * secret may hide there.
 */
export function isSensitiveParameter(pluginId: string, name: string): boolean {
  const schema = (PLUGINS.get(pluginId)?.parameters.properties as Record<string, TSchema> | undefined)?.[name]
  return schema === undefined || isSensitive(schema)
}

/** A parameter as REGARDS' `PluginParamDescriptor` describes it, plus its constraints. */
export interface ParameterMetadata {
  name: string
  label: string
  type: RegardsType
  optional: boolean
  defaultValue?: unknown
  description: string
  sensitive: boolean
  constraints?: {
    enum?: unknown[]
    minimum?: number
    maximum?: number
    minLength?: number
    pattern?: string
    format?: string
    /** What the format means, in words. */
    formatDescription?: string
  }
}

/** A plugin as REGARDS' `PluginMetaData` describes it. */
export interface PluginMetadata {
  pluginId: string
  kind: PluginKind
  version: string
  author: string
  description: string
  parameters: ParameterMetadata[]
}

const CONSTRAINTS = ['enum', 'minimum', 'maximum', 'minLength', 'pattern', 'format'] as const

export function parameterMetadata(name: string, schema: TSchema, optional: boolean): ParameterMetadata {
  const s = schema as Record<string, any>
  const constraints: NonNullable<ParameterMetadata['constraints']> = {}
  for (const key of CONSTRAINTS) if (s[key] !== undefined) (constraints as Record<string, unknown>)[key] = s[key]
  if (s.format) constraints.formatDescription = FORMAT_DESCRIPTIONS[s.format]
  return {
    name,
    label: s.title ?? name,
    type: regardsType(schema),
    optional,
    ...(s.default !== undefined ? { defaultValue: s.default } : {}),
    description: s.description,
    sensitive: isSensitive(schema),
    ...(Object.keys(constraints).length > 0 ? { constraints } : {}),
  }
}

export function pluginMetadata(declaration: PluginDeclaration): PluginMetadata {
  const required = new Set<string>(declaration.parameters.required ?? [])
  const properties = declaration.parameters.properties as Record<string, TSchema>
  return {
    pluginId: declaration.pluginId,
    kind: declaration.kind,
    version: declaration.version,
    author: declaration.author,
    description: declaration.description,
    parameters: Object.entries(properties).map(([name, schema]) => parameterMetadata(name, schema, !required.has(name))),
  }
}

/** `herald plugins list` and `GET /api/v1/plugins`. */
export const listPluginMetadata = (): PluginMetadata[] => [...PLUGINS.values()].map(pluginMetadata)

/** `herald plugins show ID` and `GET /api/v1/plugins/{pluginId}`; undefined for an unknown id. */
export function findPluginMetadata(pluginId: string): PluginMetadata | undefined {
  const declaration = PLUGINS.get(pluginId)
  return declaration && pluginMetadata(declaration)
}
