import os from 'node:os'
import { Command, InvalidArgumentError } from 'commander'
import { loadConfig } from '../config.ts'
import { createSignInCode, SIGN_IN_CODE_TTL_SECONDS } from '../console-sessions/sign-in-code.ts'
import { resolveJwtSecret } from '../http/auth.ts'

function role(value: string): 'ADMIN' | 'EXPLOIT' {
  if (value !== 'ADMIN' && value !== 'EXPLOIT') throw new InvalidArgumentError('ADMIN or EXPLOIT')
  return value
}

/**
 * `herald console --tenant T [--role R]`: prints a sign-in link for the web console. The code rides in the
 * URL fragment (after `#`), which the browser never sends to a server, so it appears in no access log.
 */
export function registerConsoleCommand(program: Command): void {
  program
    .command('console')
    .description(`print a one-time sign-in link for the web console (single use, ${SIGN_IN_CODE_TTL_SECONDS / 60} minutes)`)
    .requiredOption('--tenant <tenant>', 'tenant the session gives access to')
    .option('--role <role>', 'ADMIN (everything) or EXPLOIT (read and retry)', role, 'ADMIN')
    .option('--subject <name>', 'who signs in, recorded on the session and in the logs', os.userInfo().username)
    .option('--base-url <url>', 'how browsers reach this Herald (default: from HERALD_HTTP_HOST and HERALD_HTTP_PORT)')
    .action((opts: { tenant: string; role: 'ADMIN' | 'EXPLOIT'; subject: string; baseUrl?: string }) => {
      const config = loadConfig()
      if (config.tenants && !config.tenants.has(opts.tenant)) {
        process.stderr.write(`warning: tenant ${opts.tenant} is not in HERALD_TENANTS (the sign-in will be refused)\n`)
      }
      const code = createSignInCode(resolveJwtSecret(config), { tenant: opts.tenant, role: opts.role, subject: opts.subject })
      const host = config.httpHost.includes(':') ? `[${config.httpHost}]` : config.httpHost
      const base = (opts.baseUrl ?? `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${config.httpPort}`).replace(/\/+$/, '')
      process.stdout.write(`${base}/console/sign-in#code=${code}\n`)
    })
}
