// Preloaded into a `herald start` process by process-unhandled-rejection.test.ts: once Herald listens for
// unhandled rejections, rejects a promise that nobody awaits.
const timer = setInterval(() => {
  if (process.listenerCount('unhandledRejection') === 0) return
  clearInterval(timer)
  Promise.reject(new Error('test: a promise nobody awaits'))
}, 50)
