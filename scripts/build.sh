#!/usr/bin/env sh
# Bundles Herald's server (src/, less the console that Vite builds into dist/console) into dist/server, which
# `herald` and `npm start` run: bin/herald.js runs the TypeScript sources through tsx instead while
# dist/server is missing or older than src/. Run by `npm ci` (the `prepare` script) and `npm run build`.
#
# esbuild rather than tsc: start-up is mostly module loading, and one bundle loads in ~0.27 s of CPU where
# tsc's one file per module (~1,800 with the dependencies) takes ~0.9 s (measured on the 2-core machine,
# `node -e "await import(…)"`, 3 runs each). Type checking stays with `npm run typecheck`.
set -eu
cd "$(dirname "$0")/.."
rm -rf dist/server
# Externals: PGlite loads its WebAssembly and data files next to its own module; pg-native is optional.
# The banner gives the bundled CommonJS packages the require, __filename and __dirname that ESM lacks.
# Entry points: the CLI, and every module that runs in a worker thread (it uses parentPort). Workers are
# started as new URL('./<name>.js', import.meta.url): the flat [name] layout keeps them next to every chunk.
workers=$(grep -rl --include='*.ts' parentPort src | grep -v '^src/console/' || true)
# shellcheck disable=SC2086
node_modules/.bin/esbuild src/cli/index.ts $workers \
  --bundle --splitting --format=esm --platform=node --target=node20 \
  --outdir=dist/server --entry-names='[name]' --sourcemap \
  --external:@electric-sql/pglite --external:pg-native \
  --banner:js="import { createRequire as __herald_createRequire } from 'node:module'; import { fileURLToPath as __herald_fileURLToPath } from 'node:url'; const require = __herald_createRequire(import.meta.url); const __filename = __herald_fileURLToPath(import.meta.url); const __dirname = __herald_fileURLToPath(new URL('.', import.meta.url));" \
  --log-level=warning
# The build is complete: bin/herald.js compares this file's time with the sources'.
touch dist/server/.built
