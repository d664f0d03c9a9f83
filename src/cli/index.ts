import { createProgram } from './program.ts'

const program = await createProgram(process.argv.slice(2))
await program.parseAsync(process.argv)
