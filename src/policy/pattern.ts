/**
 * Strings from policies that may carry wildcards (`*`, `?`) and policy variables (`${aws:username}`,
 * `${aws:PrincipalTag/team, 'none'}`, and the fixed `${*}`, `${?}`, `${$}`), compiled once when a
 * policy is parsed and matched many times.
 *
 * Matching is linear-time in practice (a single backtrack point, O(n·m) worst case) and never uses
 * a RegExp built from policy text, so an encryption context chosen by a caller cannot make a
 * `StringLike` pattern with many `*`s take exponential time.
 */

import type { RequestContext } from './context.js'

/** A wildcard that matches any run of characters, including none. */
export const STAR = 0
/** A wildcard that matches exactly one character. */
export const ONE = 1
type Wild = typeof STAR | typeof ONE

type Token =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'wild'; readonly wild: Wild }
  | { readonly kind: 'var'; readonly key: string; readonly fallback: string | undefined }

/** A piece of a resolved pattern: literal text or a wildcard. */
export type Part = string | Wild

/** A policy string compiled for matching. */
export interface Pattern {
  /** The string as written in the policy. */
  readonly source: string
  readonly tokens: readonly Token[]
  /** Lower-case keys of the variables the pattern refers to. */
  readonly variables: readonly string[]
  /** The resolved parts when the pattern has no variables (the common case), else undefined. */
  readonly fixed: readonly Part[] | undefined
}

/** How to read a policy string. */
export interface PatternOptions {
  /** Treat `*` and `?` as wildcards (StringLike, ArnLike, Action, Resource). */
  readonly wildcards: boolean
  /** Expand `${...}` policy variables (only in policies with Version 2012-10-17). */
  readonly variables: boolean
}

/** Compiles a policy string. Malformed `${` sequences are kept as literal text. */
export function compilePattern(source: string, options: PatternOptions): Pattern {
  const tokens: Token[] = []
  let text = ''
  const flush = (): void => {
    if (text !== '') tokens.push({ kind: 'text', text })
    text = ''
  }
  let i = 0
  while (i < source.length) {
    const c = source[i]!
    if (options.variables && c === '$' && source[i + 1] === '{') {
      const variable = readVariable(source, i + 2)
      if (variable !== undefined) {
        if (variable.literal !== undefined) {
          text += variable.literal
        } else {
          flush()
          tokens.push({ kind: 'var', key: variable.key, fallback: variable.fallback })
        }
        i = variable.end
        continue
      }
    }
    if (options.wildcards && (c === '*' || c === '?')) {
      flush()
      tokens.push({ kind: 'wild', wild: c === '*' ? STAR : ONE })
    } else {
      text += c
    }
    i++
  }
  flush()
  const variables: string[] = []
  const parts: Part[] = []
  for (const t of tokens) {
    if (t.kind === 'var') variables.push(t.key)
    else parts.push(t.kind === 'text' ? t.text : t.wild)
  }
  return { source, tokens, variables, fixed: variables.length === 0 ? Object.freeze(parts) : undefined }
}

interface VariableRead {
  end: number
  literal?: string
  key: string
  fallback: string | undefined
}

/** Reads `key}` or `key, 'default'}` starting just after `${`; undefined when malformed. */
function readVariable(s: string, start: number): VariableRead | undefined {
  let i = start
  let key = ''
  while (i < s.length && s[i] !== '}' && s[i] !== ',') key += s[i++]
  key = key.trim()
  if (i >= s.length || key === '') return undefined
  // ${*}, ${?} and ${$} stand for the literal characters (IAM "Special characters").
  if (s[i] === '}' && (key === '*' || key === '?' || key === '$')) return { end: i + 1, literal: key, key, fallback: undefined }
  if (/[\s${}']/.test(key)) return undefined
  if (s[i] === '}') return { end: i + 1, key: key.toLowerCase(), fallback: undefined }
  // `, 'default'`: a quote inside the default is written as two quotes.
  i++
  while (s[i] === ' ') i++
  if (s[i] !== "'") return undefined
  i++
  let fallback = ''
  for (;;) {
    if (i >= s.length) return undefined
    if (s[i] === "'") {
      if (s[i + 1] === "'") {
        fallback += "'"
        i += 2
        continue
      }
      i++
      break
    }
    fallback += s[i++]
  }
  while (s[i] === ' ') i++
  if (s[i] !== '}') return undefined
  return { end: i + 1, key: key.toLowerCase(), fallback }
}

/**
 * Substitutes the pattern's variables from the request context. Undefined when a variable has no
 * single value and no default: AWS then treats the comparison as failed ("any attempt to match it
 * fails"). Multi-valued keys cannot be used as variables.
 */
export function resolvePattern(pattern: Pattern, context: RequestContext): readonly Part[] | undefined {
  if (pattern.fixed !== undefined) return pattern.fixed
  const parts: Part[] = []
  for (const t of pattern.tokens) {
    if (t.kind === 'text') parts.push(t.text)
    else if (t.kind === 'wild') parts.push(t.wild)
    else {
      const v = context.get(t.key)
      const value = typeof v === 'string' ? v : t.fallback
      if (value === undefined) return undefined
      parts.push(value)
    }
  }
  return parts
}

/** The literal string of parts that hold no wildcards; undefined when there is a wildcard. */
export function literalOf(parts: readonly Part[]): string | undefined {
  let s = ''
  for (const p of parts) {
    if (typeof p !== 'string') return undefined
    s += p
  }
  return s
}

/** Lower-cases the literal text of parts (for case-insensitive matching). */
export function lowerParts(parts: readonly Part[]): Part[] {
  return parts.map((p) => (typeof p === 'string' ? p.toLowerCase() : p))
}

const SURROGATE = /[\uD800-\uDFFF]/

/** True when `text` matches the wildcard pattern. `?` matches one Unicode code point. */
export function globMatch(parts: readonly Part[], text: string): boolean {
  // Fast paths for the shapes policies use most: exact, "*", "prefix*".
  if (parts.length === 1) {
    const p = parts[0]!
    if (p === STAR) return true
    if (typeof p === 'string') return p === text
  } else if (parts.length === 2 && typeof parts[0] === 'string' && parts[1] === STAR) {
    return text.startsWith(parts[0])
  } else if (parts.length === 0) {
    return text === ''
  }
  const pat: Array<string | Wild> = []
  for (const p of parts) {
    if (typeof p !== 'string') pat.push(p)
    else if (SURROGATE.test(p)) pat.push(...Array.from(p))
    else for (let i = 0; i < p.length; i++) pat.push(p[i]!)
  }
  const txt = SURROGATE.test(text) ? Array.from(text) : text
  let pi = 0
  let ti = 0
  let starAt = -1
  let starText = 0
  while (ti < txt.length) {
    const p = pat[pi]
    if (pi < pat.length && (p === ONE || p === txt[ti])) {
      pi++
      ti++
    } else if (pi < pat.length && p === STAR) {
      starAt = pi++
      starText = ti
    } else if (starAt >= 0) {
      pi = starAt + 1
      ti = ++starText
    } else {
      return false
    }
  }
  while (pi < pat.length && pat[pi] === STAR) pi++
  return pi === pat.length
}

/** Splits an ARN into its six components (the last keeps any further colons); undefined if shorter. */
export function splitArn(arn: string): string[] | undefined {
  const out: string[] = []
  let from = 0
  for (let n = 0; n < 5; n++) {
    const at = arn.indexOf(':', from)
    if (at < 0) return undefined
    out.push(arn.slice(from, at))
    from = at + 1
  }
  out.push(arn.slice(from))
  return out
}

/** Splits resolved pattern parts into six ARN components on literal colons; undefined if shorter. */
function splitArnParts(parts: readonly Part[]): Part[][] | undefined {
  const out: Part[][] = [[]]
  for (const p of parts) {
    if (typeof p !== 'string' || out.length === 6) {
      out[out.length - 1]!.push(p)
      continue
    }
    let rest = p
    while (out.length < 6) {
      const at = rest.indexOf(':')
      if (at < 0) break
      if (at > 0) out[out.length - 1]!.push(rest.slice(0, at))
      out.push([])
      rest = rest.slice(at + 1)
    }
    if (rest !== '') out[out.length - 1]!.push(rest)
  }
  return out.length === 6 ? out : undefined
}

// A decision matches the same key ARN against several patterns, and a policy's patterns without
// variables are the same frozen arrays on every request: both splits are kept.
let lastArn = ''
let lastArnSplit: readonly string[] | undefined
const splitPatterns = new WeakMap<readonly Part[], Part[][] | null>()

function arnPatternOf(parts: readonly Part[]): Part[][] | undefined {
  if (!Object.isFrozen(parts)) return splitArnParts(parts)
  let split = splitPatterns.get(parts)
  if (split === undefined) {
    split = splitArnParts(parts) ?? null
    splitPatterns.set(parts, split)
  }
  return split ?? undefined
}

/**
 * ARN matching as ArnLike and the Resource element do it: each of the six colon-delimited
 * components is matched on its own, so a wildcard never spans a colon in the first five; the
 * last component (the resource) may contain colons and slashes. Case-sensitive.
 */
export function arnMatch(parts: readonly Part[], arn: string): boolean {
  if (parts.length === 1 && parts[0] === STAR) return true
  if (arn !== lastArn) {
    lastArn = arn
    lastArnSplit = splitArn(arn)
  }
  const text = lastArnSplit
  const pattern = arnPatternOf(parts)
  if (text === undefined || pattern === undefined) return false
  for (let i = 0; i < 6; i++) {
    const component = pattern[i]!
    if (!globMatch(component.length === 0 ? [''] : component, text[i]!)) return false
  }
  return true
}
