import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'

/**
 * `npm test` passes on a clone with nothing beside it: no test reads a file outside the repository, and the
 * tests never import the benchmarks (bench/ may import test/support, not the reverse).
 */
const repoRoot = path.resolve(import.meta.dirname, '..')
const testDir = path.join(repoRoot, 'test')

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === 'fixtures' ? [] : sources(full)
    return /\.(ts|mjs|js)$/.test(entry.name) ? [full] : []
  })
}

/** Every relative module specifier and every relative path literal ('../x', "./y") of a file. */
function relativePaths(text: string): string[] {
  return [...text.matchAll(/['"`](\.\.?\/[^'"`$\s]*)['"`]/g)].map((m) => m[1])
}

describe('the test suite stands alone', () => {
  const files = sources(testDir)

  it('finds the test sources', () => {
    expect(files.length).toBeGreaterThan(50)
    expect(files).toContain(path.join(testDir, 'support/herald-process.ts'))
  })

  it('points at no file outside the repository, and imports nothing from bench/', () => {
    const outside: string[] = []
    const bench: string[] = []
    for (const file of files) {
      for (const rel of relativePaths(fs.readFileSync(file, 'utf8'))) {
        const target = path.resolve(path.dirname(file), rel)
        const where = `${path.relative(repoRoot, file)}: ${rel}`
        if (path.relative(repoRoot, target).startsWith('..')) outside.push(where)
        else if (path.relative(repoRoot, target).split(path.sep)[0] === 'bench') bench.push(where)
      }
    }
    expect(outside).toEqual([])
    expect(bench).toEqual([])
  })

  it('names no spec document beside the repository', () => {
    const readers = files.filter((file) => file !== import.meta.filename && /shared\/reference|\/work\/shared/.test(fs.readFileSync(file, 'utf8')))
    expect(readers.map((file) => path.relative(repoRoot, file))).toEqual([])
  })
})
