import { disseminationAckSender } from './dissemination-ack-sender.ts'
import { emailSender } from './email-sender.ts'
import { ltaRequestSender } from './lta-request-sender.ts'
import { rabbitmqSender } from './rabbitmq-sender.ts'
import type { SenderPlugin } from './sender.ts'
import { webhookSender } from './webhook-sender.ts'
import { workerManagerSender } from './worker-manager-sender.ts'

/** Every recipient plugin Herald knows, by REGARDS plugin id. */
export const SENDER_PLUGINS: ReadonlyMap<string, SenderPlugin> = new Map(
  [rabbitmqSender, disseminationAckSender, workerManagerSender, ltaRequestSender, webhookSender, emailSender].map((plugin) => [plugin.pluginId, plugin]),
)
