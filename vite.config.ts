import { defineConfig } from 'vite'

/**
 * The operator's console: a Preact single-page app under src/console, built into dist/console and served
 * by the http role at /console/. Everything it loads comes from that folder (no CDN, no web fonts).
 */
export default defineConfig({
  root: 'src/console',
  base: '/console/',
  logLevel: 'warn',
  build: { outDir: '../../dist/console', emptyOutDir: true, chunkSizeWarningLimit: 300 },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
})
