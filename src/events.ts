import { EventEmitter } from 'node:events'
import type { Logger } from './log.ts'
import type { InstanceSignal } from './db/instance-signals.ts'

/**
 * Lifecycle events of the notifier. Metrics, logs and tests subscribe; the core never imports prom-client.
 */
export interface HeraldEventMap {
  'request:received': [{ tenant: string; queue: string }]
  'request:denied': [{ tenant: string; reason: string }]
  'request:granted': [{ tenant: string; direct: boolean; count: number }]
  'request:ignored': [{ tenant: string; reason: 'duplicate-in-batch' | 'in-progress' | 'redelivered' | 'unknown-tenant' }]
  'request:completed': [{ tenant: string; state: 'SUCCESS' | 'ERROR'; count: number }]
  'request:rule-error': [{ tenant: string; rule: string }]
  'message:dead-lettered': [{ queue: string; reason: string }]
  'delivery:sent': [{ tenant: string; recipient: string; count: number; seconds: number }]
  'delivery:failed': [{ tenant: string; recipient: string; count: number; permanent: boolean }]
  'delivery:retried': [{ tenant: string; recipient: string; count: number }]
  'recipient:parked': [{ tenant: string; recipient: string; reason: string }]
  'recipient:unparked': [{ tenant: string; recipient: string }]
  'process:unhandled-rejection': [{ error: string }]
  /** Another process on the same PostgreSQL (an instance, the CLI) announced work (src/db/instance-signals.ts). */
  'instance:signalled': [{ signal: InstanceSignal; from: string }]
}

export class HeraldEvents extends EventEmitter<HeraldEventMap> {
  readonly #log: Logger

  /** `log` receives the exceptions of broken listeners. */
  constructor(log: Logger) {
    super()
    this.#log = log
  }

  /**
   * Emits without letting a listener's exception reach the code that emitted (a broken metrics listener
   * must not break delivery), and logs that exception: a listener that fails silently is a metric or an
   * audit line lost without anyone knowing.
   */
  safeEmit<K extends keyof HeraldEventMap>(name: K, ...args: HeraldEventMap[K]): void {
    try {
      this.emit(name, ...(args as any))
    } catch (err) {
      this.#log.error({ err, event: name }, 'an event listener failed')
    }
  }
}
