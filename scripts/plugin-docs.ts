// Rewrites the parameter tables of docs/senders.md and docs/rules.md from the plugin declarations.
import fs from 'node:fs'
import path from 'node:path'
import { renderParameterTables } from '../src/plugins/docs-tables.ts'

for (const doc of ['docs/senders.md', 'docs/rules.md']) {
  const file = path.resolve(import.meta.dirname, '..', doc)
  const before = fs.readFileSync(file, 'utf8')
  const after = renderParameterTables(before)
  if (after !== before) fs.writeFileSync(file, after)
  console.log(`${doc}: ${after === before ? 'up to date' : 'rewritten'}`)
}
