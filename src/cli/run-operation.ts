import os from 'node:os'
import { ConfigError, loadConfig } from '../config.ts'
import { catalogued, ERR_INTERNAL, ERR_TENANT_NOT_ACCEPTED, HeraldError, type ErrorKind } from '../errors.ts'
import type { OpsDeps } from '../ops/deps.ts'
import type { Principal } from '../ops/principal.ts'
import { StartRefusal } from '../secrets/start-refusal.ts'
import { openCliDeps } from './cli-deps.ts'

/**
 * The exit code of each kind of refusal of the catalogue (src/errors.ts), documented in the CLI section of
 * README.md: scripts branch on it as REST clients branch on the HTTP status. Usage errors (an unknown
 * option, a missing argument: commander's own) exit 2 as `invalid` does (src/cli/index.ts).
 */
export const EXIT_CODES: Record<ErrorKind, number> = {
  internal: 1,
  invalid: 2,
  too_large: 2,
  unsupported_media_type: 2,
  not_found: 3,
  conflict: 4,
  forbidden: 5,
  unauthenticated: 5,
  unavailable: 6,
  rate_limited: 6,
}

/** The operator at this machine: ADMIN of the tenant named by --tenant, recorded in the audit trail as `cli:<os user>`. */
export function cliPrincipal(tenant: string): Principal {
  return { tenant, role: 'ADMIN', subject: `cli:${os.userInfo().username}` }
}

/** Writes one line `herald: <what was refused> (<code>)` on stderr and sets the exit code of its kind. */
export function reportRefusal(err: HeraldError): void {
  process.stderr.write(`herald: ${err.detail ?? err.title} (${err.code})\n`)
  process.exitCode = EXIT_CODES[err.kind]
}

/** Runs a command that needs no database (plugins, rules test): a refusal becomes its line and exit code. */
export async function runCommand(command: () => Promise<void> | void): Promise<void> {
  try {
    await command()
  } catch (err) {
    const refusal = err instanceof HeraldError ? err : err instanceof ConfigError || err instanceof StartRefusal ? ERR_INTERNAL(err.message) : catalogued(err)
    if (!refusal) throw err
    reportRefusal(refusal)
  }
}

/**
 * The CLI side of every operation of src/ops/: the operations' dependencies over the configuration's
 * database, the CLI principal for `tenant`, and the refusal of a tenant this Herald does not serve
 * (HERALD_TENANTS), as the REST API refuses its token.
 */
export async function runOperation(tenant: string, operation: (deps: OpsDeps, principal: Principal) => Promise<void>): Promise<void> {
  await runCommand(async () => {
    const config = loadConfig()
    if (config.tenants && !config.tenants.has(tenant)) throw ERR_TENANT_NOT_ACCEPTED(`tenant ${tenant} is not in HERALD_TENANTS`)
    const deps = await openCliDeps(config)
    try {
      await operation(deps, cliPrincipal(tenant))
    } finally {
      await deps.close()
    }
  })
}
