import type { Command } from 'commander'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { COMMAND_GROUPS, createProgram } from '../src/cli/program.ts'
import { OPERATOR_ACTIONS } from '../src/ops/actions.ts'
import { startHttpFixture, type HttpFixture } from './http-helpers.ts'

/**
 * src/ops/actions.ts is the one list of operator actions both transports are checked against: each REST
 * route it names is in the OpenAPI document Herald serves, each CLI command it names is a command of the
 * CLI, every REST operation that changes something and every CLI command is in it, and every action has
 * both a REST route and a CLI command. A route or command added without its entry fails here.
 */

/** REST operations that change something but are no operator action: they open or close a console session. */
const REST_NOT_ACTIONS: Record<string, string> = {
  'POST /api/v1/console/sign-in': 'exchanges a one-time sign-in code for a console session: authentication, not an operation on the tenant',
  'POST /api/v1/console/sign-out': 'revokes the caller’s own console session: authentication, not an operation on the tenant',
}

/** CLI commands that are no operator action on a tenant. */
const CLI_NOT_ACTIONS: Record<string, string> = {
  start: 'runs Herald itself',
  token: 'signs a bearer token for the REST API: a credential, not an operation on the tenant',
  console: 'prints a one-time sign-in link for the console: a credential, not an operation on the tenant',
}

const CHANGING_METHODS = ['POST', 'PUT', 'DELETE']

/**
 * Every leaf command (`requests bulk-retry start`) of the CLI. createProgram loads only the invoked group in
 * full, so each group is read from the program built for it (the others are one-word placeholders there).
 */
async function cliCommands(): Promise<Set<string>> {
  const groups = new Set(COMMAND_GROUPS.map((g) => g.name))
  const leaves = new Set<string>()
  const walk = (command: Command, words: string[]) => {
    // A group that runs something itself (`herald completeness`, with `completeness gap` below it) is a command
    // too; commander keeps that only in its private _actionHandler.
    const runsItself = (command as unknown as { _actionHandler: unknown })._actionHandler != null
    if (command.commands.length === 0 || runsItself) leaves.add(words.join(' '))
    for (const sub of command.commands) walk(sub, [...words, sub.name()])
  }
  for (const group of COMMAND_GROUPS) {
    const program = await createProgram([group.name])
    for (const command of program.commands) if (command.name() === group.name || !groups.has(command.name())) walk(command, [command.name()])
  }
  return leaves
}

describe('src/ops/actions.ts against the REST API and the CLI', () => {
  let f: HttpFixture
  /** `METHOD /api/v1/path/{param}` of every operation of the OpenAPI document. */
  let restOperations: Set<string>
  let commands: Set<string>
  const listedRest = new Set(OPERATOR_ACTIONS.flatMap((a) => a.rest.map((r) => `${r.method} ${r.path}`)))
  const listedCli = new Set(OPERATOR_ACTIONS.map((a) => a.cli))

  beforeAll(async () => {
    f = await startHttpFixture('pglite')
    const res = await f.call('GET', '/api/v1/openapi.json', { as: null })
    expect(res.statusCode).toBe(200)
    const paths = res.json().paths as Record<string, Record<string, unknown>>
    restOperations = new Set(Object.entries(paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`)))
    commands = await cliCommands()
  }, 60_000)
  afterAll(async () => {
    await f?.close()
  })

  it('names each action once', () => {
    const names = OPERATOR_ACTIONS.map((a) => a.name)
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([])
  })

  it('finds every REST route it lists in the OpenAPI document', () => {
    expect([...listedRest].filter((op) => !restOperations.has(op))).toEqual([])
  })

  it('finds every CLI command it lists in the CLI', () => {
    expect([...listedCli].filter((c) => !commands.has(c))).toEqual([])
  })

  it('lists every REST operation that changes something', () => {
    const changing = [...restOperations].filter((op) => CHANGING_METHODS.includes(op.split(' ')[0]) && op.split(' ')[1].startsWith('/api/v1/'))
    expect(changing.length).toBeGreaterThan(0)
    expect(changing.filter((op) => !listedRest.has(op) && !(op in REST_NOT_ACTIONS))).toEqual([])
    // An exception that no longer exists would hide nothing: keep the list true.
    expect(Object.keys(REST_NOT_ACTIONS).filter((op) => !restOperations.has(op))).toEqual([])
  })

  it('lists every CLI command', () => {
    expect([...commands].filter((c) => !listedCli.has(c) && !(c in CLI_NOT_ACTIONS))).toEqual([])
    expect(Object.keys(CLI_NOT_ACTIONS).filter((c) => !commands.has(c))).toEqual([])
  })

  it('gives every action both a REST route and a CLI command', () => {
    expect(OPERATOR_ACTIONS.filter((a) => a.rest.length === 0 || a.cli.trim() === '').map((a) => a.name)).toEqual([])
  })

  it('marks as changing every action reached by POST, PUT or DELETE, except those that only compute an answer', () => {
    // rules.test evaluates a rule on a sample (POST for its body) and changes nothing.
    const readsByPost = new Set(['rules.test'])
    const wrong = OPERATOR_ACTIONS.filter((a) => !a.changes && !readsByPost.has(a.name) && a.rest.some((r) => r.method !== 'GET')).map((a) => a.name)
    expect(wrong).toEqual([])
  })
})
