import { Command, InvalidArgumentError } from 'commander'
import { SIGN_IN_CODE_TTL_SECONDS } from '../console-sessions/sign-in-code.ts'
import { ROLES, type Role } from '../roles.ts'

/**
 * Command groups whose modules load the database, broker and HTTP layers (~1 s of imports on a 2-core machine,
 * against ~0.1 s for Node.js and commander): only the invoked group is imported. `herald --help` lists the
 * others by these names and descriptions, which must be the ones their modules declare (test/cli-help.test.ts).
 */
export const COMMAND_GROUPS: { name: string; description: string; register(program: Command): Promise<unknown> }[] = [
  {
    name: 'config',
    description: 'import or export the REGARDS notifier configuration (rules and recipients)',
    register: async (program) => (await import('./config.ts')).registerConfigCommands(program),
  },
  {
    name: 'token',
    description: 'print a bearer token for the REST API (HS256, signed with HERALD_JWT_SECRET or the secret in the data directory)',
    register: async (program) => (await import('./token.ts')).registerTokenCommand(program),
  },
  {
    name: 'requests',
    description: 'notification requests: list, show, retry, delete',
    register: async (program) => (await import('./requests.ts')).registerRequestsCommands(program),
  },
  {
    name: 'recipients',
    description: 'recipients: list, show, create, update, delete, (de)activate, park, unpark, test',
    register: async (program) => (await import('./recipients.ts')).registerRecipientsCommands(program),
  },
  {
    name: 'rules',
    description: 'rules: list, show, create, update, delete; test rules on sample messages offline',
    register: async (program) => (await import('./rules.ts')).registerRulesCommands(program),
  },
  {
    name: 'plugins',
    description: 'recipient senders and rule matchers: list, show their parameters',
    register: async (program) => (await import('./plugins.ts')).registerPluginsCommands(program),
  },
  {
    name: 'dlq',
    description: 'dead-lettered messages: list, show, replay, discard',
    register: async (program) => (await import('./dlq.ts')).registerDlqCommands(program),
  },
  {
    name: 'audit',
    description: 'the audit trail: who changed what, when, and how it ended',
    register: async (program) => (await import('./audit.ts')).registerAuditCommands(program),
  },
  {
    name: 'overview',
    description: 'per recipient backlog, oldest waiting delivery and last hour of deliveries; intake rate; dead letters',
    register: async (program) => (await import('./overview.ts')).registerOverviewCommand(program),
  },
  {
    name: 'completeness',
    description: 'per recipient and UTC day: matched, delivered, acknowledged; and what one day misses (gap)',
    register: async (program) => (await import('./completeness.ts')).registerCompletenessCommands(program),
  },
  {
    name: 'console',
    description: `print a one-time sign-in link for the web console (single use, ${SIGN_IN_CODE_TTL_SECONDS / 60} minutes)`,
    register: async (program) => (await import('./console.ts')).registerConsoleCommand(program),
  },
  {
    name: 'catalog',
    description: 'catalog products, dissemination tracking and acknowledgements',
    register: async (program) => (await import('./catalog.ts')).registerCatalogCommands(program),
  },
]

function parseRoles(value: string): Role[] {
  const roles = value.split(',').map((r) => r.trim()).filter(Boolean)
  for (const role of roles) if (!ROLES.includes(role as Role)) throw new InvalidArgumentError(`unknown role ${role} (roles: ${ROLES.join(', ')})`)
  return roles as Role[]
}

/** The CLI for the given arguments (`process.argv.slice(2)`): the invoked command group in full, the others listed. */
export async function createProgram(args: readonly string[]): Promise<Command> {
  const program = new Command('herald').description('Product dissemination service, wire-compatible with the REGARDS notifier AMQP API')
  program
    .command('start')
    .description('run Herald (all roles by default)')
    .option('--roles <roles>', `comma-separated roles among ${ROLES.join(', ')}`, parseRoles, [...ROLES])
    .action(async (opts: { roles: Role[] }) => (await import('./start.ts')).runStart(opts.roles))
  const invoked = args[0] === 'help' ? args[1] : args[0]
  for (const group of COMMAND_GROUPS) {
    if (group.name === invoked) await group.register(program)
    else program.command(group.name).description(group.description)
  }
  return program
}
