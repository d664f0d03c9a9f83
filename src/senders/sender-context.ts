import type { Ctx } from '../context.ts'
import { networkPolicy } from './outbound-network.ts'
import type { SenderContext } from './sender.ts'

/** What a recipient's sender is given: the broker, a logger naming the recipient, and the instance's limits. */
export function senderContext(ctx: Ctx, recipient: { tenant: string; businessId: string }): SenderContext {
  return {
    broker: ctx.broker,
    log: ctx.log.child({ recipient: recipient.businessId }),
    network: networkPolicy(ctx.config.allowPrivateNetworks),
  }
}
