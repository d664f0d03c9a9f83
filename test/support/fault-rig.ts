import { NOTIFICATION_REQUEST_QUEUE } from '../../src/amqp/topology.ts'
import { spawnHerald, waitConsumers, type HeraldProcess } from '../../bench/harness.ts'
import { FAULT_RECIPIENTS, Ledger, LedgerClient, prepareFaultStorage } from './ledger.ts'
import { createTestStorage, createVhost, type TestStorage } from './services.ts'

/** What every fault test starts from: its own vhost and database, Herald processes, a ledger listening. */
export interface FaultRig {
  vhost: Awaited<ReturnType<typeof createVhost>>
  storage: TestStorage
  /** Running (and killed) Herald processes; a restart pushes a new one. */
  heralds: HeraldProcess[]
  client: LedgerClient
  ledger: Ledger
  stop(): Promise<void>
}

export async function startFaultRig(opts: { instances: number; policy?: Record<string, number> }): Promise<FaultRig> {
  const vhost = await createVhost()
  const storage = await createTestStorage('postgres')
  await prepareFaultStorage(storage, { policy: opts.policy })
  const heralds = Array.from({ length: opts.instances }, () => spawnHerald({ amqpUrl: vhost.url, storage }))
  const ledger = new Ledger(Object.keys(FAULT_RECIPIENTS))
  const client = new LedgerClient(vhost.url, ledger)
  await client.listen(FAULT_RECIPIENTS)
  await waitConsumers(vhost.url, NOTIFICATION_REQUEST_QUEUE, opts.instances)
  return {
    vhost,
    storage,
    heralds,
    client,
    ledger,
    async stop() {
      await Promise.all(heralds.map((h) => h.kill()))
      await client.close()
      await storage.drop()
      await vhost.drop()
    },
  }
}
