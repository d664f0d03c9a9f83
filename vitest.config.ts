import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Test files share one RabbitMQ and one PostgreSQL server: each file uses its own database and
    // its own queue names, but two files at once is all a 2-core machine carries without timeouts.
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
    // The Herald processes the tests spawn (bin/herald.js) run the sources, never a dist/ build of another version.
    env: { HERALD_FROM_SOURCE: '1' },
  },
})
