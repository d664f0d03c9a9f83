import type { ServerResponse } from 'node:http'
import type { Ctx } from '../context.ts'
import { findSession } from '../console-sessions/sessions.ts'
import { currentChangeCursor, readRequestChanges, type ChangeCursor } from '../notifier/request-changes.ts'
import type { Logger } from '../log.ts'
import { routesOf } from './endpoint.ts'
import type { App } from './schemas.ts'

/** How often a tenant's changes are read while someone watches: the console's "live" is this, plus the render. */
const POLL_MS = 1000
/** A comment line this often keeps proxies from closing an idle stream (nginx closes after 60 s by default). */
const KEEPALIVE_MS = 15_000

interface Watcher {
  send(event: string, data: unknown): void
  /** Checked at each poll: false once the session behind the stream has ended (signed out, expired). */
  alive(): Promise<boolean>
  close(): void
}

/**
 * One reader of the request changes per tenant with someone watching, shared by all of that tenant's
 * streams in this process; it stops when the last one leaves.
 */
class TenantFeed {
  readonly watchers = new Set<Watcher>()
  #cursor: ChangeCursor | undefined
  #timer: NodeJS.Timeout | undefined
  #running = false

  constructor(
    private readonly ctx: Ctx,
    private readonly tenant: string,
    private readonly log: Logger,
    private readonly onIdle: () => void,
  ) {}

  /** Changes count from the first stream's opening, not from the first poll a second later. */
  async start(): Promise<void> {
    this.#cursor ??= await currentChangeCursor(this.ctx.db, this.tenant)
  }

  add(w: Watcher): void {
    this.watchers.add(w)
    this.#timer ??= setInterval(() => void this.#poll(), POLL_MS)
  }

  remove(w: Watcher): void {
    this.watchers.delete(w)
    if (this.watchers.size > 0) return
    clearInterval(this.#timer)
    this.#timer = undefined
    this.onIdle()
  }

  async #poll(): Promise<void> {
    if (this.#running) return
    this.#running = true
    try {
      await this.start()
      const { changes, cursor } = await readRequestChanges(this.ctx.db, this.tenant, this.#cursor!)
      this.#cursor = cursor
      for (const w of [...this.watchers]) {
        if (!(await w.alive())) {
          w.close()
          continue
        }
        if (changes.length > 0) w.send('requests', changes.map((c) => ({ requestId: c.requestId, state: c.state, at: c.at.toISOString() })))
      }
    } catch (err) {
      // The database is away (restart, failover): the streams stay open and catch up on the next poll.
      this.log.warn({ err, tenant: this.tenant }, 'could not read request changes for the console')
    } finally {
      this.#running = false
    }
  }
}

/** The `exp` of the (already verified) JWT of an authorization header. */
function jwtExpiry(authorization: string | undefined): number | undefined {
  const payload = /^Bearer +[^.\s]+\.([^.\s]+)\./i.exec(authorization ?? '')?.[1]
  if (!payload) return undefined
  try {
    const exp = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')).exp
    return typeof exp === 'number' ? exp : undefined
  } catch {
    return undefined
  }
}

function writeEvent(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
}

/**
 * `GET /api/v1/console/events`: Server-Sent Events of the signed-in tenant's request changes (new,
 * failed, completed), so the console's screens update without a reload. Only that tenant's changes are
 * sent; the stream closes when its console session ends or its token expires.
 */
export async function consoleEventRoutes(app: App, { ctx }: { ctx: Ctx }): Promise<void> {
  const feeds = new Map<string, TenantFeed>()
  const log = ctx.log.child({ module: 'console-events' })
  const open = new Set<() => void>()
  // Before the server waits for its connections to end: an open stream would hold the close forever.
  app.addHook('preClose', async () => {
    for (const close of [...open]) close()
  })

  routesOf(app, 'console').get(
    '/console/events',
    { access: 'read', summary: 'Server-Sent Events of the tenant’s request changes (event "requests": [{requestId, state, at}])', produces: ['text/event-stream'] },
    async (req, reply) => {
      const { tenant } = req.principal
      const token = /^Bearer +(hcs_\S+)/i.exec(req.headers.authorization ?? '')?.[1]
      const expiresAt = token ? undefined : jwtExpiry(req.headers.authorization)
      let feed = feeds.get(tenant)
      if (!feed) {
        const created = new TenantFeed(ctx, tenant, log, () => feeds.delete(tenant))
        feeds.set(tenant, created)
        feed = created
      }
      await feed.start()
      reply.hijack()
      const res = reply.raw
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': req.id,
      })
      res.write(': herald console events\n\n')
      writeEvent(res, 'ready', { tenant })
      const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS)
      const watcher: Watcher = {
        send: (event, data) => writeEvent(res, event, data),
        alive: async () => (expiresAt === undefined || expiresAt * 1000 > Date.now()) && (token === undefined || (await findSession(ctx.db, token)) !== undefined),
        close: () => {
          writeEvent(res, 'end', { reason: 'the session has ended' })
          res.end()
        },
      }
      const done = () => {
        clearInterval(keepalive)
        open.delete(end)
        feed.remove(watcher)
      }
      const end = () => {
        done()
        if (!res.writableEnded) res.end()
      }
      open.add(end)
      res.on('close', done)
      feed.add(watcher)
    },
  )
}
