import { api } from '../api.ts'
import { Link } from '../router.tsx'
import { Badge, ErrorBox, ListTable, Time, useLoad } from '../ui.tsx'

interface RuleOutcome {
  rule: string
  outcome: 'match' | 'no-match' | 'error' | 'inactive'
  explain?: string
  error?: string
}

interface RecipientDecision {
  recipient: string
  label: string
  active: boolean
  decision: string
  reason: string
  delivered: boolean
  rules: RuleOutcome[]
}

interface Decisions {
  mode: string
  evaluatedAt: string
  recipients: RecipientDecision[]
}

const OUTCOME: Record<RuleOutcome['outcome'], string> = { match: 'matches', 'no-match': 'does not match', error: 'cannot be evaluated', inactive: 'inactive' }

/** The rule decision per recipient of a stored request, with the clause that fails for a non-match. */
export function RequestDecisions(props: { requestId: string; reloadKey: string }) {
  const path = `/requests/${encodeURIComponent(props.requestId)}/decisions`
  const decisions = useLoad(`${path}#${props.reloadKey}`, () => api<Decisions>(path))
  const d = decisions.data
  return (
    <>
      <h2>Rule decisions</h2>
      <ErrorBox error={decisions.error} />
      <ListTable
        caption={
          <>
            Per recipient, the rules in force evaluated on this request’s payload and metadata (<Time value={d?.evaluatedAt} />)
          </>
        }
        columns={['Recipient', 'Decision', 'Why', 'Delivery']}
        items={d?.recipients}
        empty="The tenant has no recipient."
        row={(r) => (
          <tr key={r.recipient}>
            <th scope="row">
              <Link href={`/recipients/${encodeURIComponent(r.recipient)}`}>{r.recipient}</Link>
              {r.label !== r.recipient && <div class="muted">{r.label}</div>}
            </th>
            <td>
              <Badge kind="decision" value={r.decision} />
            </td>
            <td class="clip">
              <div>{r.reason}</div>
              {r.rules.length > 1 && (
                <ul class="muted">
                  {r.rules.map((rule) => (
                    <li key={rule.rule}>
                      <Link href={`/rules/${encodeURIComponent(rule.rule)}`}>{rule.rule}</Link> {OUTCOME[rule.outcome]}
                      {rule.explain && `: ${rule.explain}`}
                      {rule.error && `: ${rule.error}`}
                    </li>
                  ))}
                </ul>
              )}
            </td>
            <td>{r.delivered ? 'has a delivery' : <span class="muted">none</span>}</td>
          </tr>
        )}
      />
    </>
  )
}
