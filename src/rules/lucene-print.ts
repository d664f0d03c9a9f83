/**
 * Prints a rule tree back as a rule string. `parseRule(printRule(ast)).ast` equals `ast` (spans aside):
 * the property tests check it. Used for explanations ("which clause failed") and by tooling that rewrites
 * rules. The output is canonical: `AND`/`OR`/`NOT`, explicit fields, parentheses only around nested levels.
 */
import type { RuleNode } from './lucene-ast.ts'
import { isTermChar } from './lucene-lex.ts'

const KEYWORDS = new Set(['AND', 'OR', 'NOT', '&&', '||'])

/**
 * @example printRule(parseRule('a:(x OR "y z") && -b:1').ast) // '(a:x OR a:"y z") AND NOT b:1'
 */
export function printRule(node: RuleNode): string {
  switch (node.kind) {
    case 'and':
    case 'or':
      return node.clauses.map((c) => (c.kind === 'and' || c.kind === 'or' ? `(${printRule(c)})` : printRule(c))).join(node.kind === 'and' ? ' AND ' : ' OR ')
    case 'not': {
      const c = node.clause
      // NOT NOT x is a syntax error in Lucene: a nested negation needs parentheses.
      return c.kind === 'and' || c.kind === 'or' || c.kind === 'not' ? `NOT (${printRule(c)})` : `NOT ${printRule(c)}`
    }
    case 'term': {
      const value = node.quoted ? printPhrase(node.value) : printGlob(node.glob ?? escapeGlobChars(node.value))
      return `${printField(node.field)}:${value}${node.fuzzy ? '~' : ''}`
    }
    case 'regex':
      return `${printField(node.field)}:/${node.pattern}/`
    case 'range':
      return `${printField(node.field)}:${node.lowerInclusive ? '[' : '{'}${printBound(node.lower)} TO ${printBound(node.upper)}${node.upperInclusive ? ']' : '}'}`
    case 'all':
      return '*:*'
  }
}

export function printField(field: string): string {
  let out = ''
  for (let k = 0; k < field.length; k++) out += escapeChar(field[k], k === 0)
  return KEYWORDS.has(out) ? '\\' + out : out
}

function printPhrase(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&')}"`
}

/** A glob keeps `\*`, `\?` and `\\` as they are; every other special character gets escaped. */
function printGlob(glob: string): string {
  let out = ''
  for (let k = 0; k < glob.length; k++) {
    const c = glob[k]
    if (c === '\\') {
      out += '\\' + glob[k + 1]
      k++
    } else out += c === '*' || c === '?' ? c : escapeChar(c, out === '')
  }
  return KEYWORDS.has(out) ? '\\' + out : out
}

function escapeGlobChars(value: string): string {
  return value.replace(/[\\*?]/g, '\\$&')
}

function escapeChar(c: string, first: boolean): string {
  return c === '\\' || !isTermChar(c, first) ? '\\' + c : c
}

function printBound(bound: string | null): string {
  if (bound === null) return '*'
  return /^[^\s\]}"\\]+$/.test(bound) && bound !== 'TO' ? bound : `"${bound.replace(/[\\"]/g, '\\$&')}"`
}
