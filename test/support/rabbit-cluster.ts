import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { freePort } from './services.ts'
import { waitFor } from './wait-for.ts'

const run = promisify(execFile)

/**
 * Where Debian installs RabbitMQ's own scripts. They are called directly, not through the /usr/sbin
 * wrappers: those switch to the `rabbitmq` user and its home, so they would take the machine's cookie and
 * its /etc/rabbitmq/rabbitmq.conf, whose listener is the main broker's 5672.
 */
const SBIN = process.env.HERALD_TEST_RABBITMQ_SBIN ?? '/usr/lib/rabbitmq/bin'

export interface RabbitNode {
  /** Erlang node name, `rabbit-h1-<run>@localhost`. */
  readonly name: string
  readonly amqpPort: number
  /** The node's AMQP URL on the cluster's vhost. */
  readonly url: string
  /** False once killed. */
  readonly running: boolean
  /** kill -9 of the whole node (its process group: the start script, beam.smp and its helpers). */
  kill(): Promise<void>
}

export interface RabbitCluster {
  readonly nodes: readonly RabbitNode[]
  readonly vhost: string
  /** HERALD_AMQP_URL for Herald: every node's URL, comma-separated. */
  readonly urls: string
  /** rabbitmqctl against a running node, with the cluster's cookie. */
  ctl(args: string[]): Promise<string>
  /** The node an AMQP connection is open on, found by its connection name (the client's `connectionName`). */
  nodeOfConnection(connectionName: string): Promise<RabbitNode | undefined>
  /** Kills every node and removes their files; safe to call twice, and after a failed start. */
  stop(): Promise<void>
}

/** Nodes of every cluster still running in this process: killed when it exits, whatever happened. */
const liveNodes = new Set<ChildProcess>()
const killGroup = (child: ChildProcess) => {
  try {
    process.kill(-child.pid!, 'SIGKILL')
  } catch {
    // already gone
  }
}
process.once('exit', () => {
  for (const child of liveNodes) killGroup(child)
})

/**
 * A RabbitMQ cluster of `size` nodes on loopback, each with its own node name, AMQP and distribution
 * ports and its files (mnesia, logs, pid file, config) in one temporary directory, the management plugin
 * off. The machine's broker (rabbit@localhost on 5672) is never touched: the nodes have an Erlang cookie of
 * their own (a random one, in a HOME of their own), so no rabbitmqctl call of this cluster can reach it nor
 * it them. Node names carry a random suffix so that two test runs on one machine do not collide in epmd.
 *
 * Node 1 holds the vhost and the `policies` from its first boot, before any client declares a queue;
 * nodes 2…n join it with `rabbitmqctl stop_app` / `join_cluster` / `start_app`.
 */
export async function startRabbitCluster(opts: {
  size?: number
  vhost?: string
  policies?: { name: string; pattern: string; definition: Record<string, unknown>; applyTo?: 'queues' | 'exchanges' | 'all' }[]
}): Promise<RabbitCluster> {
  const size = opts.size ?? 3
  const vhost = opts.vhost ?? '/'
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-rabbit-cluster-'))
  const home = path.join(dir, 'home')
  fs.mkdirSync(home)
  fs.writeFileSync(path.join(home, '.erlang.cookie'), randomBytes(20).toString('hex').toUpperCase(), { mode: 0o400 })
  // An empty rabbitmq-env.conf instead of /etc/rabbitmq's (which names rabbit@localhost), no plugins.
  fs.writeFileSync(path.join(dir, 'rabbitmq-env.conf'), '')
  fs.writeFileSync(path.join(dir, 'enabled_plugins'), '[].\n')
  const runId = randomBytes(3).toString('hex')
  const env = { ...process.env, HOME: home, RABBITMQ_CONF_ENV_FILE: path.join(dir, 'rabbitmq-env.conf') }

  const nodes: (RabbitNode & { child: ChildProcess; logFile: string })[] = []
  const ctlOn = async (node: string, args: string[]) => (await run(path.join(SBIN, 'rabbitmqctl'), ['-q', '-n', node, ...args], { env, timeout: 60_000 })).stdout
  const cluster: RabbitCluster = {
    nodes,
    vhost,
    get urls() {
      return nodes.map((n) => n.url).join(',')
    },
    ctl(args) {
      const node = nodes.find((n) => n.running)
      if (!node) throw new Error('rabbit cluster: no node running')
      return ctlOn(node.name, args)
    },
    async nodeOfConnection(connectionName) {
      const out = await cluster.ctl(['list_connections', 'port', 'client_properties', '--formatter', 'json'])
      const rows = JSON.parse(out) as { port: number; client_properties: unknown }[]
      const row = rows.find((r) => JSON.stringify(r.client_properties).includes(`"${connectionName}"`))
      return row && nodes.find((n) => n.amqpPort === row.port)
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.kill()))
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }

  try {
    // Node 1 boots with the vhost, its permissions and the policies (a definitions file: no rabbitmqctl
    // round trip, ~2 s each on a loaded 2-core machine).
    const definitions = path.join(dir, 'definitions.json')
    fs.writeFileSync(definitions, JSON.stringify(clusterDefinitions(vhost, opts.policies ?? [])))
    for (let i = 1; i <= size; i++) nodes.push(await spawnNode(`rabbit-h${i}-${runId}@localhost`, path.join(dir, `h${i}`), env, vhost, i === 1 ? definitions : undefined))
    await Promise.all(nodes.map((node) => waitListening(node)))
    const others = nodes.slice(1)
    await Promise.all(others.map((node) => ctlOn(node.name, ['stop_app'])))
    // One after the other: two nodes joining at once would both change node 1's schema.
    for (const node of others) await ctlOn(node.name, ['join_cluster', nodes[0].name])
    await Promise.all(others.map((node) => ctlOn(node.name, ['start_app'])))
    return cluster
  } catch (err) {
    const logs = nodes.map((n) => `── ${n.name}\n${tail(n.logFile)}`).join('\n')
    await cluster.stop()
    throw new Error(`rabbit cluster did not start: ${(err as Error).message}\n${logs}`)
  }
}

async function spawnNode(name: string, nodeDir: string, env: NodeJS.ProcessEnv, vhost: string, definitions?: string) {
  fs.mkdirSync(nodeDir)
  const amqpPort = await freePort()
  const distPort = await freePort()
  // Its own config file: without one, the node would read /etc/rabbitmq/rabbitmq.conf and listen on 5672.
  const configFile = path.join(nodeDir, 'rabbitmq.conf')
  fs.writeFileSync(configFile, `listeners.tcp.1 = 127.0.0.1:${amqpPort}\n${definitions ? `load_definitions = ${definitions}\n` : ''}`)
  const logFile = path.join(nodeDir, 'stdout.log')
  const out = fs.openSync(logFile, 'a')
  const child = spawn(path.join(SBIN, 'rabbitmq-server'), [], {
    cwd: nodeDir,
    // A process group of its own: kill -9 takes the start script, beam.smp and erl_child_setup at once.
    detached: true,
    stdio: ['ignore', out, out],
    env: {
      ...env,
      RABBITMQ_NODENAME: name,
      RABBITMQ_NODE_PORT: String(amqpPort),
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_CONFIG_FILE: configFile,
      RABBITMQ_ENABLED_PLUGINS_FILE: path.join(path.dirname(nodeDir), 'enabled_plugins'),
      RABBITMQ_MNESIA_BASE: path.join(nodeDir, 'mnesia'),
      RABBITMQ_LOG_BASE: path.join(nodeDir, 'log'),
      RABBITMQ_PID_FILE: path.join(nodeDir, 'pid'),
      // Inter-node traffic on loopback only, as the machine's broker does.
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    },
  })
  fs.closeSync(out)
  liveNodes.add(child)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  exited.then(() => liveNodes.delete(child))
  let running = true
  return {
    name,
    amqpPort,
    url: `amqp://guest:guest@127.0.0.1:${amqpPort}/${encodeURIComponent(vhost)}`,
    child,
    logFile,
    get running() {
      return running && child.exitCode === null && child.signalCode === null
    },
    async kill() {
      running = false
      if (child.exitCode !== null || child.signalCode !== null) return
      killGroup(child)
      await exited
    },
  }
}

/** Waits until the node's AMQP port accepts connections: RabbitMQ opens it last, once booted. */
async function waitListening(node: { name: string; amqpPort: number; running: boolean }) {
  const accepts = () =>
    new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port: node.amqpPort }, () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
  await waitFor(async () => {
    if (await accepts()) return true
    if (!node.running) throw new Error(`${node.name} exited while starting`)
    return false
  }, `${node.name}'s port ${node.amqpPort} to open`, { timeoutMs: 90_000, pollMs: 200 })
}

/**
 * RabbitMQ definitions (the management export format, imported by node 1 at boot): the guest user (a node
 * that imports definitions at boot creates no default user), the vhost with guest's permissions, the policies.
 */
function clusterDefinitions(vhost: string, policies: NonNullable<Parameters<typeof startRabbitCluster>[0]['policies']>) {
  // rabbit_password_hashing_sha256: base64(salt ‖ sha256(salt ‖ password)), 4 bytes of salt.
  const salt = randomBytes(4)
  const hash = Buffer.concat([salt, createHash('sha256').update(Buffer.concat([salt, Buffer.from('guest')])).digest()]).toString('base64')
  return {
    users: [{ name: 'guest', password_hash: hash, hashing_algorithm: 'rabbit_password_hashing_sha256', tags: ['administrator'] }],
    vhosts: [{ name: vhost }],
    permissions: [{ user: 'guest', vhost, configure: '.*', write: '.*', read: '.*' }],
    policies: policies.map((p) => ({ vhost, name: p.name, pattern: p.pattern, 'apply-to': p.applyTo ?? 'queues', definition: p.definition, priority: 0 })),
  }
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-15).join('\n')
  } catch {
    return '(no output)'
  }
}
