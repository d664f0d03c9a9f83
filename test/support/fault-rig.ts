import { NOTIFICATION_REQUEST_QUEUE } from '../../src/amqp/topology.ts'
import { spawnHerald, waitConsumers, type HeraldProcess } from './herald-process.ts'
import { FAULT_RECIPIENTS, Ledger, LedgerClient, prepareFaultStorage } from './ledger.ts'
import { createTestStorage, createVhost, freePort, type TestStorage } from './services.ts'

/** What every fault test starts from: its own vhost and database, Herald processes, a ledger listening. */
export interface FaultRig {
  vhost: Awaited<ReturnType<typeof createVhost>>
  storage: TestStorage
  /** Running (and killed) Herald processes; a restart pushes a new one. */
  heralds: HeraldProcess[]
  client: LedgerClient
  ledger: Ledger
  /**
   * Promise rejections nobody handled, summed over the first instances' /metrics (with `metrics`): `herald
   * start` logs them and goes on, so a test must look for them to see them.
   */
  unhandledRejections(): Promise<number>
  stop(): Promise<void>
}

export async function startFaultRig(opts: { instances: number; policy?: Record<string, number>; metrics?: boolean }): Promise<FaultRig> {
  const vhost = await createVhost()
  const storage = await createTestStorage('postgres')
  await prepareFaultStorage(storage, { policy: opts.policy })
  const ports = opts.metrics ? await Promise.all(Array.from({ length: opts.instances }, () => freePort())) : []
  const heralds = Array.from({ length: opts.instances }, (_, i) =>
    ports[i] ? spawnHerald({ amqpUrl: vhost.url, storage, roles: 'notifier,http', env: { HERALD_HTTP_PORT: String(ports[i]) } }) : spawnHerald({ amqpUrl: vhost.url, storage }),
  )
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
    async unhandledRejections() {
      let total = 0
      for (const port of ports) {
        const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
        total += Number(/^herald_unhandled_rejections_total (\S+)$/m.exec(metrics)?.[1] ?? NaN)
      }
      return total
    },
    async stop() {
      await Promise.all(heralds.map((h) => h.kill()))
      await client.close()
      await storage.drop()
      await vhost.drop()
    },
  }
}
