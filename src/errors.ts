/**
 * The catalogue of every refusal Herald's operations make, whoever asked: REST answers it as RFC 9457
 * `application/problem+json` (src/http/errors.ts maps the kind to a status), the CLI as one line on stderr
 * and an exit code (src/cli/run-operation.ts). The `code` is stable and mirrored in docs/api.md: clients
 * branch on it, never on `title` or `message`.
 */
export const ERROR_KINDS = [
  'invalid',
  'unauthenticated',
  'forbidden',
  'not_found',
  'conflict',
  'too_large',
  'unsupported_media_type',
  'rate_limited',
  'unavailable',
  'internal',
] as const
export type ErrorKind = (typeof ERROR_KINDS)[number]

export class HeraldError extends Error {
  constructor(
    readonly code: string,
    readonly kind: ErrorKind,
    readonly title: string,
    readonly detail: string | undefined,
    /** Extra members of the answer (e.g. `errors`: one line per invalid field). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(detail ?? title)
    this.name = 'HeraldError'
  }
}

export interface ErrorType {
  (detail?: string, details?: Record<string, unknown>): HeraldError
  readonly code: string
  readonly kind: ErrorKind
  readonly title: string
}

export const ERROR_TYPES: ErrorType[] = []

function defineError(code: string, title: string, kind: ErrorKind): ErrorType {
  const make = (detail?: string, details?: Record<string, unknown>) => new HeraldError(code, kind, title, detail, details)
  const type = Object.assign(make, { code, kind, title })
  ERROR_TYPES.push(type)
  return type
}

export const ERR_UNAUTHENTICATED = defineError('HERALD_ERR_UNAUTHENTICATED', 'A bearer token is required', 'unauthenticated')
export const ERR_TOKEN_INVALID = defineError('HERALD_ERR_TOKEN_INVALID', 'The bearer token is invalid', 'unauthenticated')
export const ERR_TOKEN_EXPIRED = defineError('HERALD_ERR_TOKEN_EXPIRED', 'The bearer token has expired', 'unauthenticated')
export const ERR_FORBIDDEN = defineError('HERALD_ERR_FORBIDDEN', 'The role of the token does not allow this operation', 'forbidden')
export const ERR_TENANT_NOT_ACCEPTED = defineError('HERALD_ERR_TENANT_NOT_ACCEPTED', 'This Herald does not serve the tenant of the token', 'forbidden')
export const ERR_VALIDATION = defineError('HERALD_ERR_VALIDATION', 'The request does not match the schema of the operation', 'invalid')
export const ERR_MALFORMED_JSON = defineError('HERALD_ERR_MALFORMED_JSON', 'The request body is not valid JSON', 'invalid')
export const ERR_BODY_TOO_LARGE = defineError('HERALD_ERR_BODY_TOO_LARGE', 'The request body is too large', 'too_large')
export const ERR_UNSUPPORTED_MEDIA_TYPE = defineError('HERALD_ERR_UNSUPPORTED_MEDIA_TYPE', 'The request body must be application/json', 'unsupported_media_type')
export const ERR_BAD_REQUEST = defineError('HERALD_ERR_BAD_REQUEST', 'The request is malformed', 'invalid')
export const ERR_BAD_CURSOR = defineError('HERALD_ERR_BAD_CURSOR', 'The pagination cursor is not one this API issued', 'invalid')
export const ERR_ROUTE_NOT_FOUND = defineError('HERALD_ERR_ROUTE_NOT_FOUND', 'No such operation', 'not_found')
export const ERR_NOT_FOUND = defineError('HERALD_ERR_NOT_FOUND', 'No such resource in this tenant', 'not_found')
export const ERR_ALREADY_EXISTS = defineError('HERALD_ERR_ALREADY_EXISTS', 'A resource with this id already exists in this tenant', 'conflict')
export const ERR_INVALID_CONFIGURATION = defineError('HERALD_ERR_INVALID_CONFIGURATION', 'The plugin configuration is invalid', 'invalid')
export const ERR_INVALID_RULE = defineError('HERALD_ERR_INVALID_RULE', 'The rule cannot be compiled', 'invalid')
export const ERR_RULE_TOO_SLOW = defineError('HERALD_ERR_RULE_TOO_SLOW', 'The rule took too long to evaluate on this sample', 'invalid')
export const ERR_RECIPIENT_BUSY = defineError('HERALD_ERR_RECIPIENT_BUSY', 'The recipient has deliveries waiting or in progress', 'conflict')
export const ERR_RETRY_JOB_RUNNING = defineError('HERALD_ERR_RETRY_JOB_RUNNING', 'A bulk retry is already running for this tenant', 'conflict')
export const ERR_CATALOG_REQUEST_STATE = defineError('HERALD_ERR_CATALOG_REQUEST_STATE', 'The catalog request is not in a state that allows this', 'conflict')
export const ERR_IMPORT_REJECTED = defineError('HERALD_ERR_IMPORT_REJECTED', 'The configuration was not imported, nothing changed', 'conflict')
export const ERR_RATE_LIMITED = defineError('HERALD_ERR_RATE_LIMITED', 'Too many requests: retry after the number of seconds in Retry-After', 'rate_limited')
export const ERR_BROKER_UNAVAILABLE = defineError('HERALD_ERR_BROKER_UNAVAILABLE', 'The message broker is unreachable', 'unavailable')
export const ERR_SIGN_IN_REFUSED = defineError('HERALD_ERR_SIGN_IN_REFUSED', 'The console sign-in code was refused', 'unauthenticated')
export const ERR_CONSOLE_NOT_BUILT = defineError('HERALD_ERR_CONSOLE_NOT_BUILT', 'The console is not built: run npm run build:console', 'unavailable')
export const ERR_INTERNAL = defineError('HERALD_ERR_INTERNAL', 'Internal error', 'internal')

/** The catalogue's error an unknown error carries through its `code` (e.g. a query's bad cursor), if any. */
export function catalogued(err: unknown): HeraldError | undefined {
  if (err instanceof HeraldError) return err
  const code = (err as { code?: unknown } | null)?.code
  const type = typeof code === 'string' ? ERROR_TYPES.find((t) => t.code === code) : undefined
  return type?.((err as Error).message)
}
