import { createProgram } from './program.ts'

// Files Herald creates (PGlite's, after its initial ones: see restrictToOwner) are its user's only.
process.umask(0o077)

const program = await createProgram(process.argv.slice(2))
await program.parseAsync(process.argv)
