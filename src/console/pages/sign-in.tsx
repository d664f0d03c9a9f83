import { useEffect, useState } from 'preact/hooks'
import { api } from '../api.ts'
import { readClaims, saveSession, type Session } from '../session.ts'
import { ErrorBox } from '../ui.tsx'

interface SignInAnswer {
  token: string
  tenant: string
  role: string
  expiresAt: string
}

/** The code printed by `herald console` arrives in the URL fragment, which browsers never send to a server. */
function codeFromFragment(): string | undefined {
  const m = /(?:^#|&)code=([^&]+)/.exec(location.hash)
  return m ? decodeURIComponent(m[1]) : undefined
}

export function SignIn(props: { onSignedIn: (s: Session) => void }) {
  const [error, setError] = useState<unknown>()
  const [busy, setBusy] = useState(false)
  const [token, setToken] = useState('')

  useEffect(() => {
    const code = codeFromFragment()
    if (!code) return
    // The code leaves the address bar before anything else happens: it is single use, and a screenshot
    // or a shared link must not carry it.
    history.replaceState(null, '', location.pathname + location.search)
    setBusy(true)
    api<SignInAnswer>('/console/sign-in', { method: 'POST', body: { code }, token: '' })
      .then((a) => {
        const session: Session = { token: a.token, tenant: a.tenant, role: a.role, kind: 'code', expiresAt: Date.parse(a.expiresAt) / 1000 }
        saveSession(session)
        props.onSignedIn(session)
      })
      .catch(setError)
      .finally(() => setBusy(false))
  }, [])

  const useToken = async (e: Event) => {
    e.preventDefault()
    const pasted = token.trim().replace(/^Bearer\s+/i, '')
    setError(undefined)
    setBusy(true)
    try {
      // Any authenticated call proves the token: the API checks its signature, expiry and tenant.
      await api('/recipients', { token: pasted })
      const claims = readClaims(pasted) ?? {}
      const session: Session = { token: pasted, tenant: claims.tenant ?? '?', role: claims.role ?? '?', kind: 'token', expiresAt: claims.exp }
      saveSession(session)
      setToken('')
      props.onSignedIn(session)
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  return (
    <main class="sign-in">
      <h1>Herald console</h1>
      <p>
        Open the link printed by <code>herald console --tenant T</code>, or paste a bearer token (from <code>herald token</code> or your
        identity provider).
      </p>
      {busy && <p role="status">Signing in…</p>}
      <ErrorBox error={error} />
      <form onSubmit={useToken}>
        <label for="token">Bearer token</label>
        <textarea id="token" rows={4} value={token} autocomplete="off" spellcheck={false} onInput={(e) => setToken((e.target as HTMLTextAreaElement).value)} />
        <button type="submit" disabled={busy || token.trim() === ''}>
          Sign in
        </button>
      </form>
    </main>
  )
}
