import { pino, stdSerializers, type DestinationStream, type Logger } from 'pino'

export type { Logger }

/**
 * JSON lines on stdout (or `destination`); every line of a module carries the fields bound with `logger.child`.
 * An error goes under `err` as the error itself (`log.warn({ err }, ...)`): the serializer writes its type,
 * message, stack and, nested, its `cause`.
 */
export function createLogger(level: string, destination?: DestinationStream, service = 'herald'): Logger {
  const options = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: stdSerializers.errWithCause },
  }
  return destination ? pino(options, destination) : pino(options)
}
