/**
 * Parser for LuceneRuleMatcher rules: a recursive descent over the productions of Lucene 8's flexible
 * `StandardSyntaxParser` (Query, DisjQuery, ConjQuery, ModClause, Clause, Term), followed by what REGARDS'
 * processing pipeline and `RuleQueryTreeBuilder` do to the result.
 *
 * Why not the `lucene` npm package: it parses a different grammar. Measured on 2.1.1: `-a:b` and `+a:b`
 * give a field named "-a" / "+a" instead of a negation; `NOT NOT a:b` silently reads the second NOT as a
 * term; a trailing `a:b AND` is accepted; `a AND b OR c` comes back right-nested as `a AND (b OR c)`,
 * which loses the flat level that REGARDS' no-precedence rule needs; and term positions include the
 * following whitespace. Each of these would change the result of a rule REGARDS accepts or rejects.
 *
 * Errors come in two kinds, as in REGARDS: a syntax error (thrown at once, `RuleSyntaxError`) and a rule
 * that parses but that REGARDS cannot build (`problems`: implicit conjunction, boost). Lucene parses the
 * whole string before building, so a syntax error anywhere wins over a build problem.
 */
import { DEFAULT_FIELD, type RuleNode, type Span, type TermNode } from './lucene-ast.ts'
import { describeToken, lexToken, readRange, RuleSyntaxError, toGlob, unescapeLucene, type Token, type TokenKind } from './lucene-lex.ts'

export { RuleSyntaxError } from './lucene-lex.ts'

export interface RuleProblem {
  message: string
  /** 0-based offset into the rule string. */
  position: number
}

export interface ParseResult {
  ast: RuleNode
  /** Parsed, but REGARDS' rule builder fails on it (the plugin cannot be instantiated). */
  problems: RuleProblem[]
  /** Valid, but probably not what the author meant. */
  warnings: RuleProblem[]
}

export interface ParseOptions {
  /** Herald extensions: also accept `field:>=value` (Lucene only accepts `field>=value`). */
  extensions?: boolean
}

const CLAUSE_START = new Set<TokenKind>(['PLUS', 'MINUS', 'NOT', 'TERM', 'QUOTED', 'REGEX', 'LPAREN', 'RANGE_IN', 'RANGE_EX'])
const COMPARISON = new Set<TokenKind>(['LT', 'LE', 'GT', 'GE'])

/**
 * Parses one rule string.
 *
 * @example
 *   parseRule('properties.type:(L1 OR L2) AND NOT properties.is_valid:false').ast
 *   // { kind: 'and', clauses: [{ kind: 'or', … }, { kind: 'not', … }] }
 * @throws RuleSyntaxError with the position of the first unreadable token.
 */
export function parseRule(src: string, options: ParseOptions = {}): ParseResult {
  return new Parser(src, options.extensions === true).parseTop()
}

/** Result of a ConjQuery: an AND written without parentheses is flattened into an enclosing OR. */
interface Conj {
  node: RuleNode
  bareAnd: boolean
}

class Parser {
  private buffer: Token[] = []
  private offset = 0
  /** End of the last token consumed: where a clause ends, once its suffixes (~, ^) are read. */
  private consumedEnd = 0
  private readonly problems: RuleProblem[] = []
  private readonly warnings: RuleProblem[] = []

  constructor(private readonly src: string, private readonly extensions: boolean) {}

  parseTop(): ParseResult {
    if (this.peek().kind === 'EOF') throw new RuleSyntaxError('the rule is empty (remove the parameter to match everything)', 0)
    const ast = this.parseQuery(DEFAULT_FIELD)
    const t = this.peek()
    if (t.kind !== 'EOF') {
      const what = t.kind === 'RPAREN' ? 'a ")" that closes nothing' : describeToken(t)
      throw new RuleSyntaxError(`unexpected ${what} at column ${t.start + 1}`, t.start)
    }
    return { ast, problems: this.problems, warnings: this.warnings }
  }

  private peek(k = 0): Token {
    while (this.buffer.length <= k) {
      const t = lexToken(this.src, this.offset)
      this.buffer.push(t)
      this.offset = t.end
    }
    return this.buffer[k]
  }

  private next(): Token {
    const t = this.peek()
    this.buffer.shift()
    this.consumedEnd = t.end
    return t
  }

  private expect(kind: TokenKind, what: string): Token {
    const t = this.peek()
    if (t.kind !== kind) throw new RuleSyntaxError(`expected ${what} at column ${t.start + 1}, found ${describeToken(t)}`, t.start)
    return this.next()
  }

  /** Query ::= DisjQuery ( DisjQuery )* — two or more is the implicit conjunction REGARDS rejects. */
  private parseQuery(field: string): RuleNode {
    const first = this.parseDisj(field).node
    while (CLAUSE_START.has(this.peek().kind)) {
      const t = this.peek()
      if (!this.problems.some((p) => p.message.startsWith('indeterminate'))) {
        this.problems.push({
          position: t.start,
          message:
            `indeterminate relationship between criteria at column ${t.start + 1}: ` +
            'add OR or AND between criteria, or quote values containing spaces',
        })
      }
      this.parseDisj(field) // keep parsing: a later syntax error is reported first, as in REGARDS
    }
    return first
  }

  /** DisjQuery ::= ConjQuery ( OR ConjQuery )* */
  private parseDisj(field: string): Conj {
    const first = this.parseConj(field)
    if (this.peek().kind !== 'OR') return first
    const parts = [first]
    while (this.peek().kind === 'OR') {
      this.next()
      parts.push(this.parseConj(field))
    }
    const bare = parts.find((p) => p.bareAnd)
    if (bare) {
      this.warnings.push({
        position: bare.node.span.start,
        message:
          `AND and OR mixed without parentheses at column ${bare.node.span.start + 1}: REGARDS gives AND no ` +
          'precedence, so every clause of this level is OR-ed; add parentheses to group the AND',
      })
    }
    const clauses = parts.flatMap((p) => (p.bareAnd && p.node.kind === 'and' ? p.node.clauses : [p.node]))
    return { node: { kind: 'or', clauses, span: spanOf(parts[0].node, parts[parts.length - 1].node) }, bareAnd: false }
  }

  /** ConjQuery ::= ModClause ( AND ModClause )* */
  private parseConj(field: string): Conj {
    const first = this.parseMod(field)
    if (this.peek().kind !== 'AND') return { node: first, bareAnd: false }
    const clauses = [first]
    while (this.peek().kind === 'AND') {
      this.next()
      clauses.push(this.parseMod(field))
    }
    return { node: { kind: 'and', clauses, span: spanOf(clauses[0], clauses[clauses.length - 1]) }, bareAnd: true }
  }

  /** ModClause ::= [ "+" | "-" | "!" | NOT ] Clause — REGARDS ignores "+" and negates the others. */
  private parseMod(field: string): RuleNode {
    const t = this.peek()
    if (t.kind === 'PLUS') {
      this.next()
      return this.parseClause(field)
    }
    if (t.kind === 'MINUS' || t.kind === 'NOT') {
      this.next()
      const clause = this.parseClause(field)
      return { kind: 'not', clause, span: { start: t.start, end: clause.span.end } }
    }
    return this.parseClause(field)
  }

  /** Clause ::= TERM (":" | "=") ( Term | "(" Query ")" ) | TERM ("<" | "<=" | ">" | ">=") value | Term | "(" Query ")" */
  private parseClause(field: string): RuleNode {
    const t = this.peek()
    if (t.kind === 'TERM') {
      const op = this.peek(1).kind
      if (op === 'COLON' || op === 'EQUAL') {
        this.next()
        this.next()
        const named = unescapeLucene(t.image, t.start).value
        const after = this.peek().kind
        if (after === 'LPAREN') return this.parseGroup(named, t.start)
        if (this.extensions && COMPARISON.has(after)) return this.parseComparison(named, t.start)
        return this.parseTerm(named, t.start)
      }
      if (COMPARISON.has(op)) {
        this.next()
        return this.parseComparison(unescapeLucene(t.image, t.start).value, t.start)
      }
    }
    if (t.kind === 'LPAREN') return this.parseGroup(field, t.start)
    return this.parseTerm(field, t.start)
  }

  private parseGroup(field: string, start: number): RuleNode {
    this.expect('LPAREN', '"("')
    const inner = this.parseQuery(field)
    const close = this.expect('RPAREN', 'a closing ")"')
    inner.span = { start, end: close.end }
    this.parseBoost()
    return inner
  }

  /** `field<v`, `field>=v` …: Lucene builds a range, as `[* TO v}`, `[v TO *]` … */
  private parseComparison(field: string, start: number): RuleNode {
    const op = this.next()
    const t = this.next()
    if (t.kind !== 'TERM' && t.kind !== 'QUOTED') {
      throw new RuleSyntaxError(`expected a value after "${op.image}" at column ${t.start + 1}, found ${describeToken(t)}`, t.start)
    }
    const bound = openBound(unescapeLucene(t.image, t.kind === 'QUOTED' ? t.start + 1 : t.start).value)
    const span = { start, end: t.end }
    const lower = op.kind === 'GT' || op.kind === 'GE' ? bound : null
    const upper = op.kind === 'LT' || op.kind === 'LE' ? bound : null
    const inclusive = op.kind === 'GE' || op.kind === 'LE'
    return {
      kind: 'range', field, lower, upper, span,
      lowerInclusive: lower === null || inclusive,
      upperInclusive: upper === null || inclusive,
    }
  }

  /** Term ::= (TERM | REGEX) [~n] [^n [~n]] | "[" … "]" | QUOTED [~n] [^n] */
  private parseTerm(field: string, start: number): RuleNode {
    const t = this.next()
    if (t.kind === 'TERM' || t.kind === 'REGEX') {
      let fuzzy = this.parseFuzzy()
      if (this.parseBoost()) fuzzy = this.parseFuzzy() || fuzzy
      const end = this.consumedEnd
      if (t.kind === 'REGEX' && !fuzzy) return { kind: 'regex', field, pattern: t.image, span: { start, end } }
      // A fuzzy regex is a FuzzyQueryNode: REGARDS compares its whole text, slashes included.
      const image = t.kind === 'REGEX' ? `/${t.image}/` : t.image
      const { value, escaped } = unescapeLucene(image, t.start)
      return this.termNode({ kind: 'term', field, value, quoted: false, glob: toGlob(value, escaped), fuzzy, span: { start, end } }, t)
    }
    if (t.kind === 'QUOTED') {
      // A phrase slop ("a b"~2) is not validated, and PhraseSlopQueryNodeProcessor drops it without an analyzer.
      if (this.peek().kind === 'FUZZY') this.next()
      this.parseBoost()
      const value = unescapeLucene(t.image, t.start + 1).value
      return this.termNode({ kind: 'term', field, value, quoted: true, glob: null, fuzzy: false, span: { start, end: t.end } }, t)
    }
    if (t.kind === 'RANGE_IN' || t.kind === 'RANGE_EX') return this.parseRange(field, start, t)
    const where = field === DEFAULT_FIELD ? '' : ` after "${field}:"`
    throw new RuleSyntaxError(
      `expected a value, a "phrase", a /regex/, a range or "("${where} at column ${t.start + 1}, found ${describeToken(t)}`,
      t.start,
    )
  }

  private termNode(node: TermNode, t: Token): RuleNode {
    // Lucene's MatchAllDocsQueryNodeProcessor turns field "*" with text "*" into match-all.
    if (node.field === '*' && node.value === '*') return { kind: 'all', span: node.span }
    if (node.fuzzy) {
      this.warnings.push({ position: t.start, message: `fuzzy "~" at column ${t.start + 1} is ignored: the term is compared exactly` })
    }
    if (node.field === DEFAULT_FIELD && node.span.start === t.start) {
      this.warnings.push({
        position: t.start,
        message: `${describeToken(t)} at column ${t.start + 1} has no field: it is looked up in "${DEFAULT_FIELD}", which payloads normally lack`,
      })
    }
    return node
  }

  private parseFuzzy(): boolean {
    if (this.peek().kind !== 'FUZZY') return false
    const t = this.next()
    // StandardSyntaxParser: a similarity >= 1 must be a whole number of edits.
    const similarity = t.image === '' ? 2 : Number(t.image)
    if (similarity >= 1 && !Number.isInteger(similarity)) {
      throw new RuleSyntaxError(`fuzzy "~${t.image}" at column ${t.start + 1}: a value of 1 or more must be a whole number`, t.start)
    }
    return true
  }

  /** `^2`: REGARDS has no builder for a BoostQueryNode, so a boosted clause makes the plugin unusable. */
  private parseBoost(): boolean {
    if (this.peek().kind !== 'CARAT') return false
    const caret = this.next()
    const t = this.next()
    if (t.kind !== 'TERM' || !/^\d+(\.\d+)?$/.test(t.image) || t.start !== caret.end) {
      throw new RuleSyntaxError(`expected a number right after "^" at column ${caret.start + 1}`, caret.start)
    }
    this.problems.push({ position: caret.start, message: `boost "^" at column ${caret.start + 1} is not supported: REGARDS cannot build a boosted clause` })
    return true
  }

  /** "[" | "{" bound [TO] bound "]" | "}": the range state has its own tokens, read past the buffer. */
  private parseRange(field: string, start: number, open: Token): RuleNode {
    const range = readRange(this.src, open)
    this.buffer = []
    this.offset = this.consumedEnd = range.end
    this.parseBoost()
    const lower = openBound(range.lower)
    const upper = openBound(range.upper)
    return {
      kind: 'range', field, lower, upper,
      lowerInclusive: lower === null || range.lowerInclusive,
      upperInclusive: upper === null || range.upperInclusive,
      span: { start, end: range.end },
    }
  }
}

function spanOf(first: RuleNode, last: RuleNode): Span {
  return { start: first.span.start, end: last.span.end }
}

/** Lucene's OpenRangeQueryNodeProcessor: `*` (or nothing) is an open bound. */
function openBound(text: string): string | null {
  return text === '*' || text === '' ? null : text
}
