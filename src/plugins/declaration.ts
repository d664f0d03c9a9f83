/**
 * How a plugin (recipient sender or rule matcher) declares its parameters: one TypeBox object per plugin,
 * one property per parameter, in the order users read them. Everything else comes from it: validation
 * at import, REST and CLI (validate-parameters.ts), typed reading in the plugin, the OpenAPI components,
 * masking (`writeOnly` marks a sensitive parameter), `GET /api/v1/plugins`, `herald plugins` and the
 * parameter tables of docs/senders.md and docs/rules.md.
 *
 * A property carries, besides its value constraints (enum, range, pattern, format):
 * - `x-regards-type`: the REGARDS `PluginParamType` (STRING, INTEGER, BOOLEAN …), what REGARDS exports
 *   write in `parameters[].type`;
 * - `title`: the label a form shows; `description`: one sentence; `default`: what an absent value means;
 * - `writeOnly: true` for a secret: never returned by the API nor exported.
 */
import { Type, type Static, type TObject, type TProperties, type TSchema } from 'typebox'
import { Format } from 'typebox/format'

export type RegardsType = 'STRING' | 'INTEGER' | 'LONG' | 'BOOLEAN' | 'DOUBLE' | 'COLLECTION' | 'MAP'
export type PluginKind = 'RECIPIENT' | 'RULE'

export const REGARDS_TYPE = 'x-regards-type'

/** A plugin as Herald knows it: REGARDS `PluginMetaData`, with its parameters as a TypeBox object. */
// The default `any` lets one map hold every plugin; each declaration keeps its own value type.
export interface PluginDeclaration<P extends TProperties = any> {
  pluginId: string
  kind: PluginKind
  version: string
  author: string
  description: string
  parameters: TObject<P>
  /**
   * Rules between parameters that no single parameter's constraints can say (a blocking recipient must
   * require an acknowledgement …), run once every parameter is valid. Each message names the parameters.
   */
  checks?: (values: Static<TObject<P>>) => string[]
}

export type ParameterValues<D extends PluginDeclaration<any>> = Static<D['parameters']>

/** Freezes a declaration; the type of its values follows from `parameters`. */
export function declarePlugin<P extends TProperties>(declaration: PluginDeclaration<P>): PluginDeclaration<P> {
  return Object.freeze(declaration)
}

interface Options {
  /** The label a form shows; defaults to the name. */
  label?: string
  default?: unknown
  /** A secret: masked in every answer and export, never logged. */
  sensitive?: boolean
  [keyword: string]: unknown
}

const annotate = (type: RegardsType, description: string, { label, sensitive, ...rest }: Options) => ({
  ...rest,
  ...(label ? { title: label } : {}),
  ...(sensitive ? { writeOnly: true } : {}),
  description,
  [REGARDS_TYPE]: type,
})

// ---------------------------------------------------------------- formats

const UTF8 = new TextEncoder()

/** AMQP short strings (exchange, queue, routing key) are at most 255 bytes (AMQP 0-9-1 §4.2.5.3). */
const isAmqpName = (v: string) => v.length > 0 && UTF8.encode(v).length <= 255 && !/[\u0000-\u001f]/.test(v)

function isHttpUrl(v: string): boolean {
  try {
    const url = new URL(v)
    return url.protocol === 'http:' || url.protocol === 'https:'
  } catch {
    return false
  }
}

/** `local@domain`, or `Display Name <local@domain>`. */
const isEmailAddress = (v: string) => /^[^\s@<>,]+@[^\s@<>,]+$/.test(v.trim()) || /^[^<>]*<[^\s@<>,]+@[^\s@<>,]+>$/.test(v.trim())

/** The addresses of a comma-separated list, blanks dropped. */
export const emailAddresses = (v: string) => v.split(',').map((a) => a.trim()).filter(Boolean)

Format.Set('amqp-name', isAmqpName)
Format.Set('http-url', isHttpUrl)
Format.Set('email-address', isEmailAddress)
Format.Set('email-address-list', (v) => emailAddresses(v).length > 0 && emailAddresses(v).every(isEmailAddress))

/** What each format means, for error messages and the docs. */
export const FORMAT_DESCRIPTIONS: Record<string, string> = {
  'amqp-name': 'an AMQP name of 1 to 255 bytes',
  'http-url': 'an http:// or https:// URL',
  'email-address': 'an e-mail address (address@domain or Name <address@domain>)',
  'email-address-list': 'a comma-separated list of e-mail addresses',
}

// ---------------------------------------------------------------- builders

/** Parameter builders: `P.string('Exchange to publish to.', { format: 'amqp-name' })`. */
export const P = {
  string: (description: string, options: Options = {}) => Type.String(annotate('STRING', description, options)),
  integer: (description: string, options: Options = {}) => Type.Integer(annotate('INTEGER', description, options)),
  long: (description: string, options: Options = {}) => Type.Integer(annotate('LONG', description, options)),
  double: (description: string, options: Options = {}) => Type.Number(annotate('DOUBLE', description, options)),
  boolean: (description: string, options: Options = {}) => Type.Boolean(annotate('BOOLEAN', description, options)),
  /** One of fixed strings (REGARDS type STRING). */
  oneOf: <const T extends string[]>(values: readonly [...T], description: string, options: Options = {}) => Type.Enum(values, annotate('STRING', description, options)),
  /** Text, or a list of texts (a JSON array): REGARDS type STRING. */
  stringOrList: (description: string, options: Options = {}) => Type.Union([Type.String(), Type.Array(Type.String())], annotate('STRING', description, options)),
  amqpName: (description: string, options: Options = {}) => Type.String(annotate('STRING', description, { ...options, format: 'amqp-name' })),
  optional: Type.Optional,
}

/** The REGARDS type of a parameter schema. */
export const regardsType = (schema: TSchema): RegardsType => (schema as Record<string, unknown>)[REGARDS_TYPE] as RegardsType

export const isSensitive = (schema: TSchema): boolean => (schema as { writeOnly?: boolean }).writeOnly === true
