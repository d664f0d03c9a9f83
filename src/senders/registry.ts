import { rabbitmqSender } from './rabbitmq-sender.ts'
import type { SenderPlugin } from './sender.ts'

/** Every recipient plugin Herald knows, by REGARDS plugin id. */
export const SENDER_PLUGINS: ReadonlyMap<string, SenderPlugin> = new Map(
  [rabbitmqSender].map((plugin) => [plugin.pluginId, plugin]),
)
