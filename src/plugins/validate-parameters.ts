import type { Static, TSchema } from 'typebox'
import { Value } from 'typebox/value'
import { FORMAT_DESCRIPTIONS, isSensitive, regardsType, type PluginDeclaration } from './declaration.ts'
import { didYouMean } from './suggest.ts'

/** What to do with a parameter name the plugin does not declare. */
export type UnknownNames = 'refuse' | 'warn' | 'ignore'

export interface ParameterCheck<V> {
  /** Each names the parameter; never quotes a sensitive value. Empty when the configuration is valid. */
  errors: string[]
  /** Unknown names, when they are not refused. */
  warnings: string[]
  /** The valid parameters, converted to their types, with defaults for the absent ones. */
  values: V
}

// Booleans and numbers arrive as JSON values or as strings ("true", "8"): REGARDS exports and
// hand-written files use both. Nothing else is converted ("yes", "1.5" for an INTEGER are refused).
const BOOLEAN_TEXT = /^(true|false)$/i
const INTEGER_TEXT = /^[+-]?\d+$/

type Converted = { value: unknown } | { error: string }

function convert(schema: TSchema, raw: unknown): Converted {
  const type = (schema as { type?: string }).type
  const type_ = regardsType(schema)
  const what = `${/^[AEIOU]/.test(type_) ? 'an' : 'a'} ${type_}`
  switch (type) {
    case 'boolean':
      if (typeof raw === 'boolean') return { value: raw }
      if (typeof raw === 'string' && BOOLEAN_TEXT.test(raw.trim())) return { value: raw.trim().toLowerCase() === 'true' }
      return { error: `${what} (true or false)` }
    case 'integer':
      if (typeof raw === 'number' && Number.isSafeInteger(raw)) return { value: raw }
      if (typeof raw === 'string' && INTEGER_TEXT.test(raw.trim()) && Number.isSafeInteger(Number(raw))) return { value: Number(raw) }
      return { error: `${what} (a whole number)` }
    case 'number':
      if (typeof raw === 'number' && Number.isFinite(raw)) return { value: raw }
      if (typeof raw === 'string' && raw.trim() !== '' && Number.isFinite(Number(raw))) return { value: Number(raw) }
      return { error: `${what} (a number)` }
    case 'string':
      return typeof raw === 'string' ? { value: raw } : { error: `${what} (text)` }
    default:
      // An enum is checked as a constraint below (its message lists the values); a union as a whole here.
      return 'enum' in schema || Value.Check(schema, raw) ? { value: raw } : { error: what }
  }
}

const shown = (schema: TSchema, raw: unknown) => {
  if (isSensitive(schema)) return 'a value that is not shown (secret)'
  const text = JSON.stringify(raw) ?? String(raw)
  return text.length > 80 ? `${text.slice(0, 80)}…` : text
}

/** The first constraint a converted value breaks, said the way a user reads it. */
function constraintError(schema: TSchema, value: unknown): string | undefined {
  const error = Value.Errors(schema, value)[0]
  if (!error) return undefined
  const s = schema as Record<string, any>
  switch (error.keyword) {
    case 'format':
      return `must be ${FORMAT_DESCRIPTIONS[s.format] ?? `in format ${s.format}`}`
    case 'enum':
      return `must be one of ${(s.enum as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`
    case 'minimum':
    case 'maximum':
      return s.maximum === undefined ? `must be at least ${s.minimum}` : s.minimum === undefined ? `must be at most ${s.maximum}` : `must be between ${s.minimum} and ${s.maximum}`
    case 'pattern':
      return `must match ${s.pattern}`
    case 'minLength':
    case 'maxLength':
      return `must have ${s.minLength ?? 0} to ${s.maxLength ?? '∞'} characters`
    default:
      return error.message
  }
}

/**
 * Checks a plugin's parameters (name → value) against its declaration: unknown names (with a suggestion
 * when one is close), mandatory ones missing, values of the wrong type or outside their constraints,
 * and the plugin's own rules between parameters. Absent means undefined, null or "" (REGARDS exports
 * write unset parameters either way).
 *
 * @example
 *   checkParameters(webhookSender.declaration, { url: 'https://h.example', secret: 'k' }, 'refuse').errors
 *   // ['unknown parameter "secret": did you mean "secrets"?']
 */
export function checkParameters<D extends Pick<PluginDeclaration<any>, 'pluginId' | 'parameters' | 'checks'>>(
  declaration: D,
  params: Record<string, unknown>,
  unknown: UnknownNames,
): ParameterCheck<Static<D['parameters']>> {
  const properties = declaration.parameters.properties as Record<string, TSchema>
  const required = new Set<string>(declaration.parameters.required ?? [])
  const names = Object.keys(properties)
  const errors: string[] = []
  const warnings: string[] = []
  for (const name of Object.keys(params)) {
    if (Object.hasOwn(properties, name) || unknown === 'ignore') continue
    const hint = didYouMean(name, names) || ` (${declaration.pluginId} takes ${names.join(', ')})`
    ;(unknown === 'refuse' ? errors : warnings).push(`unknown parameter "${name}"${hint}`)
  }
  const values: Record<string, unknown> = {}
  for (const [name, schema] of Object.entries(properties)) {
    const raw = params[name]
    if (raw === undefined || raw === null || raw === '') {
      if (required.has(name)) errors.push(`parameter ${name} is mandatory`)
      else if ((schema as { default?: unknown }).default !== undefined) values[name] = (schema as { default?: unknown }).default
      continue
    }
    const converted = convert(schema, raw)
    if ('error' in converted) {
      errors.push(`parameter ${name} must be ${converted.error}, got ${shown(schema, raw)}`)
      continue
    }
    const broken = constraintError(schema, converted.value)
    if (broken) errors.push(`parameter ${name} ${broken}, got ${shown(schema, raw)}`)
    else values[name] = converted.value
  }
  const typed = values as Static<D['parameters']>
  // The rules between parameters see the valid values only: every problem is reported at once.
  if (declaration.checks) errors.push(...declaration.checks(typed))
  return { errors, warnings, values: typed }
}
