/**
 * What V8's linear-time regular expression engine can do for Herald, and how long Herald lets a regular
 * expression run on the event loop.
 *
 * V8 has two engines: the backtracking one (fast, but `.*.*.*.*.*.*.*b` on 3,000 characters backtracks for
 * hours) and a linear-time one (an automaton; no look-around, no back-reference, counted repetitions only
 * up to ~16). With `--enable-experimental-regexp-engine-on-excessive-backtracks`, a pattern the linear
 * engine can run starts on the backtracking engine and moves to the linear one after 50,000 backtracks:
 * its cost is bounded by the length of the value. `--enable-experimental-regexp-engine` enables the `l`
 * flag, used here only to ask V8 whether its linear engine accepts a pattern (the classifier). Evaluating
 * with `l` always would be exact too, but is 10 to 30 times slower on ordinary patterns (measured on Node
 * 20: `L[1-3]_RAD_GD[A-Z]` 2.1 M/s backtracking, 0.2 M/s linear), so it is not used to evaluate.
 *
 * Set here, where every process and thread that compiles rules gets them (v8 flags are per process).
 */
import v8 from 'node:v8'

v8.setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks')
v8.setFlagsFromString('--enable-experimental-regexp-engine')

/** True when V8's linear-time engine accepts `source` (a JavaScript pattern, without flags). */
export function linearEngineCanRun(source: string): boolean {
  try {
    new RegExp(source, 'l')
    return true
  } catch {
    return false
  }
}

/**
 * The linear engine is linear in the value but not cheap: about 0.7 µs per character per pattern
 * character for `.*.*.*.*.*.*.*b` (15 characters: 32 ms on 3,000 characters, 24 s on 1,000,000), growing
 * with the square of the pattern. A regular expression runs on the event loop only while
 * value length × pattern length² stays under this bound (~12 ms in that worst case; a 20-character
 * pattern runs in line on values up to 625 characters, `L2.*` up to 15,625); beyond, the evaluation goes
 * to a worker with a deadline, like a pattern the linear engine cannot run.
 */
export const MAX_IN_LINE_WORK = 250_000

/** True when running a linear-safe pattern of `patternLength` characters on `valueLength` characters stays in line. */
export function fitsInLine(patternLength: number, valueLength: number): boolean {
  return valueLength * patternLength * patternLength <= MAX_IN_LINE_WORK
}

/**
 * How long one evaluation may run in a worker before it is stopped and reported as a rule error. An
 * ordinary evaluation takes microseconds; 500 ms leaves room for a loaded machine, and each runaway
 * evaluation costs one worker for that long (the event loop not at all).
 */
export const RULE_DEADLINE_MS = 500

/** Thrown by an in-line evaluation that reaches a regular expression it must not run on the event loop. */
export class OffLoop extends Error {
  constructor(readonly reason: string) {
    super(reason)
    this.name = 'OffLoop'
  }
}
