#!/usr/bin/env node
// Runs the bundled CLI in dist/server (built by `npm ci` through the `prepare` script, or by `npm run build`).
// When dist/server is missing or older than a file of src/ (sources edited or pulled since the build), or
// when HERALD_FROM_SOURCE=1 (the tests), it runs the TypeScript sources through tsx instead: a few seconds
// slower to start, never stale.
import fs from 'node:fs'

const root = new URL('../', import.meta.url)
const consoleSources = new URL('src/console/', root)

/** The newest modification time under a directory (~200 files: ~3 ms), but for the console (built by Vite). */
function newestMtimeMs(dir) {
  let newest = 0
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = new URL(entry.name + (entry.isDirectory() ? '/' : ''), dir)
    if (file.href === consoleSources.href) continue
    newest = Math.max(newest, entry.isDirectory() ? newestMtimeMs(file) : fs.statSync(file).mtimeMs)
  }
  return newest
}

const fromSource = process.env.HERALD_FROM_SOURCE === '1'
const built = fromSource ? undefined : fs.statSync(new URL('dist/server/.built', root), { throwIfNoEntry: false })
if (built && built.mtimeMs >= newestMtimeMs(new URL('src/', root))) {
  await import('../dist/server/index.js')
} else {
  if (built) process.stderr.write('herald: src/ changed since the last build: running the sources (`npm run build` to start faster)\n')
  const { register } = await import('tsx/esm/api')
  register()
  await import('../src/cli/index.ts')
}
