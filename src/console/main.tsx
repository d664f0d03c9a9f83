import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { api, whenUnauthorized } from './api.ts'
import { startLive, stopLive } from './live.ts'
import { Audit } from './pages/audit.tsx'
import { Completeness } from './pages/completeness.tsx'
import { DeadLetterPage, DeadLetters } from './pages/dead-letters.tsx'
import { Overview } from './pages/overview.tsx'
import { ProductPage, Products } from './pages/products.tsx'
import { RecipientPage } from './pages/recipient.tsx'
import { RequestPage } from './pages/request.tsx'
import { Requests } from './pages/requests.tsx'
import { RulePage, Rules } from './pages/rules.tsx'
import { SignIn } from './pages/sign-in.tsx'
import { Link, navigate, useLocation } from './router.tsx'
import { currentSession, forgetSession, rememberNext, takeNext, type Session } from './session.ts'

const SCREENS = [
  { href: '/', label: 'Overview' },
  { href: '/requests', label: 'Requests' },
  { href: '/completeness', label: 'Completeness' },
  { href: '/rules', label: 'Rules' },
  { href: '/products', label: 'Products' },
  { href: '/dead-letters', label: 'Dead letters' },
  // Only ADMIN may read the audit trail (src/ops/audit-list.ts).
  { href: '/audit', label: 'Audit', admin: true },
]

function Screen(props: { path: string; session: Session }) {
  const [pathname, query = ''] = props.path.split('?')
  const search = `?${query}`
  // `/section` or `/section/item`: a list, or one of its entries (the item is URL-encoded).
  const [, section = '', raw] = /^\/([^/]*)(?:\/([^/]+))?$/.exec(pathname) ?? []
  const item = raw === undefined ? undefined : decodeURIComponent(raw)
  const s = props.session
  if (item === undefined) {
    if (section === '' || section === 'recipients') return <Overview />
    if (section === 'requests') return <Requests search={search} />
    if (section === 'completeness') return <Completeness search={search} />
    if (section === 'rules') return <Rules />
    if (section === 'products') return <Products search={search} />
    if (section === 'dead-letters') return <DeadLetters search={search} />
    if (section === 'audit') return <Audit search={search} session={s} />
  } else {
    if (section === 'requests') return <RequestPage requestId={item} session={s} />
    if (section === 'recipients') return <RecipientPage businessId={item} session={s} />
    if (section === 'rules') return <RulePage businessId={item} session={s} />
    if (section === 'products') return <ProductPage urn={item} />
    if (section === 'dead-letters') return <DeadLetterPage id={item} session={s} />
  }
  return (
    <section>
      <h1>Not found</h1>
      <p>
        The console has no screen at <code>{pathname}</code>. <Link href="/">Back to the overview</Link>
      </p>
    </section>
  )
}

function App() {
  const [session, setSession] = useState(currentSession())
  const path = useLocation()
  useEffect(
    () =>
      whenUnauthorized(() => {
        forgetSession()
        setSession(undefined)
      }),
    [],
  )
  // Signed in with the sign-in page still in the address bar: open the screen asked for before.
  useEffect(() => {
    if (session && path.startsWith('/sign-in')) navigate(takeNext() ?? '/', true)
  }, [session, path])
  useEffect(() => {
    if (session) startLive()
    return stopLive
  }, [session?.token])

  if (!session) {
    if (path !== '/' && !path.startsWith('/sign-in')) rememberNext(path)
    return (
      <SignIn
        onSignedIn={(s) => {
          setSession(s)
          navigate(takeNext() ?? '/', true)
        }}
      />
    )
  }
  const signOut = async () => {
    // A session opened with a one-time code is revoked on the server; a pasted token is only forgotten.
    if (session.kind === 'code') await api('/console/sign-out', { method: 'POST' }).catch(() => {})
    forgetSession()
    setSession(undefined)
    navigate('/', true)
  }
  const current = path.split('?')[0]
  return (
    <>
      <header class="top">
        <span class="brand">Herald</span>
        <nav aria-label="Screens">
          {SCREENS.filter((s) => !s.admin || session.role === 'ADMIN').map((s) => (
            <Link key={s.href} href={s.href} aria-current={current === s.href || (s.href !== '/' && current.startsWith(s.href)) ? 'page' : undefined}>
              {s.label}
            </Link>
          ))}
        </nav>
        <span class="who">
          {session.tenant} · {session.role}
        </span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main>
        <Screen path={path} session={session} />
      </main>
    </>
  )
}

render(<App />, document.getElementById('app')!)
