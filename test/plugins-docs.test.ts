import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { renderParameterTables } from '../src/plugins/docs-tables.ts'

// The parameter tables of the docs are generated from the plugin declarations: a declaration changed
// without `node --import tsx scripts/plugin-docs.ts` fails here.
describe('docs parameter tables', () => {
  for (const doc of ['docs/senders.md', 'docs/rules.md']) {
    it(`${doc} says what the declarations say`, () => {
      const text = fs.readFileSync(path.resolve(import.meta.dirname, '..', doc), 'utf8')
      expect(text).toMatch(/<!-- parameters \w+ -->/)
      expect(renderParameterTables(text)).toBe(text)
    })
  }
})
