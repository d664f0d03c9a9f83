import { useEffect } from 'preact/hooks'
import { sessionEnded } from './api.ts'
import { currentSession } from './session.ts'

export interface RequestChange {
  requestId: string
  state: string
  at: string
}

type Listener = (changes: RequestChange[]) => void
const listeners = new Set<Listener>()
let stream: AbortController | undefined

/**
 * The tenant's request changes, read from `GET /api/v1/console/events`. fetch() rather than EventSource:
 * EventSource cannot send an Authorization header, and the token must not travel in a URL.
 */
async function connect(signal: AbortSignal): Promise<void> {
  let delay = 1000
  while (!signal.aborted) {
    const token = currentSession()?.token
    if (!token) return
    try {
      const res = await fetch('/api/v1/console/events', { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal })
      if (res.status === 401) return sessionEnded()
      if (!res.ok || !res.body) throw new Error(`events: ${res.status}`)
      delay = 1000
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
      let buffer = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buffer += value
        let cut: number
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut)
          buffer = buffer.slice(cut + 2)
          const event = /^event: (.*)$/m.exec(block)?.[1]
          const data = /^data: (.*)$/m.exec(block)?.[1]
          if (event === 'end') return sessionEnded()
          if (event === 'requests' && data) for (const l of listeners) l(JSON.parse(data))
        }
      }
    } catch (err) {
      if (signal.aborted) return
    }
    await new Promise((r) => setTimeout(r, delay))
    delay = Math.min(delay * 2, 30_000)
  }
}

export function startLive(): void {
  stream?.abort()
  stream = new AbortController()
  void connect(stream.signal)
}

export function stopLive(): void {
  stream?.abort()
  stream = undefined
}

/** Runs `onChange` (at most once a second) when the tenant's requests change. */
export function useRequestChanges(onChange: (changes: RequestChange[]) => void, deps: unknown[] = []): void {
  useEffect(() => {
    let pending: RequestChange[] = []
    let timer: ReturnType<typeof setTimeout> | undefined
    const listener: Listener = (changes) => {
      pending.push(...changes)
      timer ??= setTimeout(() => {
        const batch = pending
        pending = []
        timer = undefined
        onChange(batch)
      }, 250)
    }
    listeners.add(listener)
    return () => {
      listeners.delete(listener)
      clearTimeout(timer)
    }
  }, deps)
}
