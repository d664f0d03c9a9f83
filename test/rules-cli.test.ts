import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { PassThrough, Readable, Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { runRulesTest } from '../src/cli/rules-test.ts'

async function run(input: string, output: Writable = new PassThrough()): Promise<unknown[]> {
  const chunks: Buffer[] = []
  output.on('data', (c: Buffer) => chunks.push(c))
  await runRulesTest(Readable.from([input]), output)
  const text = Buffer.concat(chunks).toString('utf8')
  expect(text.endsWith('\n') || text === '').toBe(true)
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l))
}

const lucene = (payloadRule: string) => ({ pluginId: 'LuceneRuleMatcher', parameters: [{ name: 'payload_rule', type: 'STRING', value: payloadRule }] })

describe('herald rules test', () => {
  it('writes one JSON line per input line: match, non-match with explanation, error', async () => {
    const lines = [
      { rule: lucene('properties.type:L2'), metadata: {}, payload: { properties: { type: 'L2' } } },
      { rule: lucene('properties.type:L2'), metadata: {}, payload: { properties: { type: 'L1' } } },
      { rule: lucene('properties.type:null'), metadata: {}, payload: { properties: { type: null } } },
    ]
    const out = await run(lines.map((l) => JSON.stringify(l)).join('\n'))
    expect(out).toEqual([
      { match: true },
      { match: false, explain: 'payload_rule: properties.type:L2 is false (properties.type is "L1")' },
      { error: expect.stringMatching(/JSON null/) },
    ])
  })

  it('reports bad lines and goes on', async () => {
    const good = JSON.stringify({ rule: lucene('a:1'), metadata: {}, payload: { a: 1 } })
    const input = [
      good,
      '{not json',
      JSON.stringify({ rule: { pluginId: 'NoSuchMatcher', parameters: [] }, metadata: {}, payload: {} }),
      JSON.stringify({ rule: lucene('a:1 b:2'), metadata: {}, payload: {} }),
      JSON.stringify([1, 2]),
      JSON.stringify({ metadata: {}, payload: {} }),
      '',
      '   ',
      good,
    ].join('\r\n')
    const out = await run(input)
    expect(out).toEqual([
      { match: true },
      { error: expect.stringMatching(/^line 2: invalid JSON/) },
      { error: expect.stringMatching(/unknown rule pluginId "NoSuchMatcher"/) },
      { error: expect.stringMatching(/payload_rule: indeterminate relationship between criteria at column 5/) },
      { error: expect.stringMatching(/^line 5: expected a JSON object/) },
      { error: expect.stringMatching(/^line 6: "rule" must be an object/) },
      { match: true },
    ])
  })

  it('echoes an "id" so that results can be joined to inputs', async () => {
    const out = await run(JSON.stringify({ id: 'case-7', rule: lucene('a:1'), metadata: {}, payload: { a: 2 } }))
    expect(out).toEqual([{ id: 'case-7', match: false, explain: expect.any(String) }])
  })

  it('gives the REGARDS result for every reference vector', async () => {
    const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
    const text = readFileSync(path.resolve(repoRoot, 'test/fixtures/regards-rule-vectors.jsonl'), 'utf8')
    const vectors = text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l))
    const out = (await run(text)) as Record<string, unknown>[]
    expect(out).toHaveLength(vectors.length)
    vectors.forEach((v, i) => {
      if (typeof v.expect === 'boolean') expect(out[i], v.id).toMatchObject({ match: v.expect })
      else expect(out[i], v.id).toHaveProperty('error')
    })
  })

  it('waits for a slow output (backpressure) and keeps the order over many lines', async () => {
    const n = 5000
    const input = Array.from({ length: n }, (_, i) => JSON.stringify({ id: i, rule: lucene('n:/[0-9]*0/'), metadata: {}, payload: { n: i } })).join('\n')
    const received: string[] = []
    const slow = new Writable({
      highWaterMark: 64,
      write(chunk: Buffer, _enc, done) {
        received.push(chunk.toString())
        setImmediate(done)
      },
    })
    await runRulesTest(Readable.from([input]), slow)
    const out = received.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l))
    expect(out).toHaveLength(n)
    out.forEach((o, i) => {
      expect(o.id).toBe(i)
      expect(o.match).toBe(i % 10 === 0)
    })
  })

  it('stops quietly when the reader goes away (EPIPE) and reports other write errors', async () => {
    const input = Array.from({ length: 100 }, () => JSON.stringify({ rule: lucene('a:1'), metadata: {}, payload: { a: 1 } })).join('\n')
    const failing = (code: string) => {
      let writes = 0
      return new Writable({
        write(_chunk, _enc, done) {
          writes++
          done(writes > 2 ? Object.assign(new Error(`write ${code}`), { code }) : undefined)
        },
      })
    }
    await expect(runRulesTest(Readable.from([input]), failing('EPIPE'))).resolves.toBeUndefined()
    await expect(runRulesTest(Readable.from([input]), failing('EIO'))).rejects.toThrow(/write EIO/)
  })

  it('ends with its input when a rule ran in a worker and one evaluation ran out of time (the command, as a process)', async () => {
    const rule = lucene('properties.title:/(?=a).*.*.*.*.*.*.*b/')
    const input = [
      { rule, metadata: {}, payload: { properties: { title: 'aab' } } },
      { rule, metadata: {}, payload: { properties: { title: 'a'.repeat(3000) } } },
    ].map((l) => JSON.stringify(l) + '\n')
    const bin = fileURLToPath(new URL('../bin/herald.js', import.meta.url))
    const child = spawn(process.execPath, [bin, 'rules', 'test'], { stdio: ['pipe', 'pipe', 'inherit'] })
    let out = ''
    child.stdout!.on('data', (c) => (out += c))
    child.stdin!.end(input.join(''))
    const [code] = await once(child, 'exit')
    expect(code).toBe(0)
    expect(out.trim().split('\n').map((l) => JSON.parse(l))).toEqual([{ match: true }, { error: expect.stringMatching(/did not finish within 500 ms/) }])
  }, 120_000)
})
