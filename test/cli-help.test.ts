import { describe, expect, it } from 'vitest'
import { COMMAND_GROUPS, createProgram } from '../src/cli/program.ts'

// `herald --help` lists the command groups without importing them (their modules load the database, broker
// and HTTP layers): the listing must say what the groups themselves declare.
describe('herald --help', () => {
  it('lists every command group by the name and description its module declares', async () => {
    const listing = await createProgram([])
    for (const group of COMMAND_GROUPS) {
      const declared = (await createProgram([group.name])).commands.find((c) => c.name() === group.name)
      expect(declared, group.name).toBeDefined()
      expect(declared!.description(), group.name).toBe(group.description)
      expect(listing.commands.find((c) => c.name() === group.name)?.description()).toBe(group.description)
    }
  })

  it('registers the full group for `herald help <group>`', async () => {
    const dlq = (await createProgram(['help', 'dlq'])).commands.find((c) => c.name() === 'dlq')
    expect(dlq!.commands.map((c) => c.name())).toEqual(['list', 'show', 'replay', 'discard'])
  })
})
