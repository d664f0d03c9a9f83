import { Command, InvalidArgumentError } from 'commander'
import { loadConfig } from '../config.ts'
import { resolveJwtSecret, signToken } from '../http/auth.ts'

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 }

function duration(value: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(value.trim())
  if (!m) throw new InvalidArgumentError('a duration such as 3600, 90m, 24h or 30d (0: never expires)')
  return Number(m[1]) * UNITS[m[2] || 's']
}

/** `herald token --tenant T --role ADMIN|EXPLOIT`: prints an HS256 bearer token for the REST API. */
export function registerTokenCommand(program: Command): void {
  program
    .command('token')
    .description('print a bearer token for the REST API (HS256, signed with HERALD_JWT_SECRET or the secret in the data directory)')
    .requiredOption('--tenant <tenant>', 'tenant the token gives access to')
    .requiredOption('--role <role>', 'ADMIN (everything) or EXPLOIT (read and retry)')
    .option('--expires-in <duration>', 'validity: seconds, or 90m, 24h, 30d; 0 never expires', duration, 86_400)
    .option('--subject <name>', 'sub claim, shown in logs', 'herald-cli')
    .action((opts: { tenant: string; role: string; expiresIn: number; subject: string }) => {
      const config = loadConfig()
      if (!['ADMIN', 'EXPLOIT', 'PROJECT_ADMIN', 'INSTANCE_ADMIN'].includes(opts.role)) {
        process.stderr.write(`warning: role ${opts.role} has no access to the API (every call will answer 403)\n`)
      }
      if (config.tenants && !config.tenants.has(opts.tenant)) {
        process.stderr.write(`warning: tenant ${opts.tenant} is not in HERALD_TENANTS (every call will answer 403)\n`)
      }
      const token = signToken(resolveJwtSecret(config), { tenant: opts.tenant, role: opts.role, sub: opts.subject }, opts.expiresIn || undefined)
      process.stdout.write(`${token}\n`)
    })
}
