import { CommanderError, type Command } from 'commander'
import { createProgram } from './program.ts'

// Files Herald creates (PGlite's, after its initial ones: see restrictToOwner) are its user's only.
process.umask(0o077)

/** Every command throws its usage errors instead of exiting 1, so that they exit 2 as `invalid` refusals do (src/cli/run-operation.ts). */
function throwUsageErrors(command: Command): void {
  command.exitOverride()
  for (const sub of command.commands) throwUsageErrors(sub)
}

const program = await createProgram(process.argv.slice(2))
throwUsageErrors(program)
try {
  await program.parseAsync(process.argv)
} catch (err) {
  if (!(err instanceof CommanderError)) throw err
  // commander has written the message (or the help, exit code 0).
  process.exitCode = err.exitCode === 0 ? 0 : 2
}
