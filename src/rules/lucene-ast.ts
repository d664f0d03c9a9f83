/**
 * The rule tree that `lucene-parse.ts` produces and `lucene-rule-matcher.ts` evaluates.
 *
 * It is already in REGARDS' *semantic* shape, not the raw syntax: parentheses are gone, a field group
 * `f:(a OR b)` has given its field to each term, `+` is dropped (REGARDS ignores it), and an `AND` written
 * inside an `OR` without parentheses has been flattened into that `OR` (Lucene 8's
 * BooleanQuery2ModifierNodeProcessor does this and REGARDS then ignores the `+` modifiers it adds, so
 * `a AND b OR c` means `a OR b OR c`; see docs/rules.md). `printRule` in `lucene-print.ts` turns a tree back
 * into a rule string that parses to the same tree.
 */

/** Offsets into the rule string, 0-based, end exclusive. Used for error positions only. */
export interface Span {
  start: number
  end: number
}

export interface BoolNode {
  kind: 'and' | 'or'
  clauses: RuleNode[]
  span: Span
}

export interface NotNode {
  kind: 'not'
  clause: RuleNode
  span: Span
}

/** `field:value` or `field:"a phrase"`: exact equality with the leaf's string form. */
export interface TermNode {
  kind: 'term'
  field: string
  /** The value with Lucene escapes removed, as REGARDS compares it. */
  value: string
  quoted: boolean
  /**
   * Unquoted terms only: the value as a glob, where a bare `*` or `?` is a wildcard and `\*`, `\?`, `\\`
   * are literal. REGARDS ignores it (it compares `value` literally); Herald's extensions use it.
   */
  glob: string | null
  /** Written with a `~` fuzzy suffix, which REGARDS ignores (the term is compared literally). */
  fuzzy: boolean
  span: Span
}

/** `field:/pattern/`: a Java regular expression that must match the whole leaf string. */
export interface RegexNode {
  kind: 'regex'
  field: string
  /** The text between the slashes, unchanged (Lucene does not unescape regular expressions). */
  pattern: string
  span: Span
}

/** `field:[a TO b]`, `{a TO b}`, `field>=a` …: rejected by REGARDS, a Herald extension. */
export interface RangeNode {
  kind: 'range'
  field: string
  /** `null` is an open bound (`*`). */
  lower: string | null
  upper: string | null
  /** Always `true` for an open bound, so that equivalent spellings give equal trees. */
  lowerInclusive: boolean
  upperInclusive: boolean
  span: Span
}

/** `*:*`: Lucene's match-all query, which REGARDS cannot build. A Herald extension. */
export interface MatchAllNode {
  kind: 'all'
  span: Span
}

export type RuleNode = BoolNode | NotNode | TermNode | RegexNode | RangeNode | MatchAllNode

/** The field REGARDS gives to a term written without one (`LuceneRuleMatcher` passes `"defaultField"`). */
export const DEFAULT_FIELD = 'defaultField'
