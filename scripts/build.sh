#!/usr/bin/env sh
# Compiles src/ (less the console, which Vite builds into dist/console) into dist/, which `herald` and
# `npm start` run (bin/herald.js runs the sources through tsx instead while dist/ is missing or older than
# src/). Run by `npm ci` (the `prepare` script) and `npm run build`.
set -eu
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/tsc ]; then
  # npm ci --omit=dev: no TypeScript compiler; tsx (a dependency) runs the sources.
  echo "build: TypeScript is not installed: herald will run the TypeScript sources (slower to start)"
  exit 0
fi
# A clean output (no module left over from a deleted source), keeping the console that Vite builds into dist/console.
mkdir -p dist
find dist -mindepth 1 -maxdepth 1 ! -name console -exec rm -rf {} +
node_modules/.bin/tsc -p tsconfig.build.json
# The build is complete: bin/herald.js compares this file's time with the sources'.
touch dist/.built
