import { Command, InvalidArgumentError } from 'commander'
import { loadConfig, parseDuration } from '../config.ts'
import { resolveJwtSecret, signToken } from '../http/auth.ts'

// Half a day: a working session of an operator or of a console, without a token that outlives the day.
const DEFAULT_EXPIRES_IN = '12h'

function duration(value: string): number {
  const seconds = parseDuration(value)
  if (!seconds) throw new InvalidArgumentError('a positive duration such as 3600, 90m, 12h or 7d (every token expires)')
  return seconds
}

/** `herald token --tenant T --role ADMIN|EXPLOIT`: prints an HS256 bearer token for the REST API. */
export function registerTokenCommand(program: Command): void {
  program
    .command('token')
    .description('print a bearer token for the REST API (HS256, signed with HERALD_JWT_SECRET or the secret in the data directory)')
    .requiredOption('--tenant <tenant>', 'tenant the token gives access to')
    .requiredOption('--role <role>', 'ADMIN (everything) or EXPLOIT (read and retry)')
    .option('--expires-in <duration>', 'validity: seconds, or 90m, 12h, 7d; at most HERALD_TOKEN_MAX_LIFETIME (default 7d)', duration, duration(DEFAULT_EXPIRES_IN))
    .option('--subject <name>', 'sub claim, shown in logs', 'herald-cli')
    .action((opts: { tenant: string; role: string; expiresIn: number; subject: string }) => {
      const config = loadConfig()
      if (opts.expiresIn > config.tokenMaxLifetimeSeconds) {
        process.stderr.write(`error: --expires-in ${opts.expiresIn} s is longer than HERALD_TOKEN_MAX_LIFETIME (${config.tokenMaxLifetimeSeconds} s): the API would refuse the token\n`)
        process.exitCode = 2
        return
      }
      if (!['ADMIN', 'EXPLOIT', 'PROJECT_ADMIN', 'INSTANCE_ADMIN'].includes(opts.role)) {
        process.stderr.write(`warning: role ${opts.role} has no access to the API (every call will answer 403)\n`)
      }
      if (config.tenants && !config.tenants.has(opts.tenant)) {
        process.stderr.write(`warning: tenant ${opts.tenant} is not in HERALD_TENANTS (every call will answer 403)\n`)
      }
      if ((config.jwtPublicKeyFile || config.jwtJwksFile) && !config.jwtAllowHs256) {
        process.stderr.write('warning: an external issuer is configured and HERALD_JWT_ALLOW_HS256 is not true: the API refuses HS256 tokens (every call will answer 401)\n')
      }
      const claims = { tenant: opts.tenant, role: opts.role, sub: opts.subject, iss: config.jwtIssuer, aud: config.jwtAudience }
      const token = signToken(resolveJwtSecret(config), claims, opts.expiresIn)
      process.stdout.write(`${token}\n`)
    })
}
