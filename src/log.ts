import { pino, type Logger } from 'pino'

export type { Logger }

/** JSON lines on stdout; every line of a module carries the fields bound with `logger.child`. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'herald' }, timestamp: pino.stdTimeFunctions.isoTime })
}
