import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { AMQP_BASE_URL } from './services.ts'

/**
 * A TCP proxy in front of the real RabbitMQ that can stop passing the broker's answers on (what a client
 * sees of a broker under a memory or disk alarm, or of a stalled connection: its publishes go out, no
 * confirm comes back), then pass them all on again. A real alarm (`rabbitmqctl
 * set_vm_memory_high_watermark`) would block every publisher of the shared broker, other test files' too.
 */
export interface StallingProxy {
  /** `url` (a vhost URL on the real broker) through the proxy. */
  urlFor(url: string): string
  stall(): void
  resume(): void
  close(): Promise<void>
}

export async function startStallingProxy(): Promise<StallingProxy> {
  const target = new URL(AMQP_BASE_URL)
  let stalled = false
  const held: { to: net.Socket; chunk: Buffer }[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5672), target.hostname)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('error', () => {})
      s.on('close', () => {
        sockets.delete(s)
        client.destroy()
        upstream.destroy()
      })
    }
    client.on('data', (chunk) => upstream.write(chunk))
    upstream.on('data', (chunk) => (stalled ? held.push({ to: client, chunk }) : client.write(chunk)))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    urlFor(url) {
      const u = new URL(url)
      u.hostname = '127.0.0.1'
      u.port = String(port)
      return u.toString()
    },
    stall() {
      stalled = true
    },
    resume() {
      stalled = false
      for (const { to, chunk } of held.splice(0)) if (!to.destroyed) to.write(chunk)
    },
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
