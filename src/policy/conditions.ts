/**
 * The Condition element: parsing each operator block once, and deciding it against a request.
 *
 * Semantics follow the IAM User Guide ("Condition operators", "Creating a condition with multiple
 * keys or values", "Variables and tags"):
 * - blocks, keys within a block, and operators are ANDed; the values of one key are ORed
 *   (for a negated operator: the request value must match none of them);
 * - a key missing from the request makes a condition false, except that negated operators
 *   (`StringNotEquals`, `ArnNotLike`, `NotIpAddress`, ...) are then true, `...IfExists` is true, and
 *   `Null` tests presence;
 * - `ForAllValues:` is true when the key is missing or empty, `ForAnyValue:` false;
 * - policy variables work in String, ARN and Bool values; a variable with no value and no default
 *   makes that comparison fail.
 */

import { KmsError } from '../core/errors.js'
import type { ContextValue, RequestContext } from './context.js'
import { arnMatch, compilePattern, globMatch, literalOf, lowerParts, resolvePattern, type Part, type Pattern } from './pattern.js'

/** The operator families. */
type Family = 'string' | 'numeric' | 'date' | 'bool' | 'binary' | 'ip' | 'arn' | 'null'

/** What a base operator compares. `negated` operators are true when no policy value matches. */
interface OperatorSpec {
  readonly family: Family
  readonly negated: boolean
  /** For String operators: wildcards in values (Like) and case folding (IgnoreCase). */
  readonly like?: boolean
  readonly ignoreCase?: boolean
  /** For Numeric and Date operators: the comparison. */
  readonly compare?: 'eq' | 'lt' | 'le' | 'gt' | 'ge'
}

const OPERATORS: Readonly<Record<string, OperatorSpec>> = Object.assign(Object.create(null) as Record<string, OperatorSpec>, {
  StringEquals: { family: 'string', negated: false },
  StringNotEquals: { family: 'string', negated: true },
  StringEqualsIgnoreCase: { family: 'string', negated: false, ignoreCase: true },
  StringNotEqualsIgnoreCase: { family: 'string', negated: true, ignoreCase: true },
  StringLike: { family: 'string', negated: false, like: true },
  StringNotLike: { family: 'string', negated: true, like: true },
  NumericEquals: { family: 'numeric', negated: false, compare: 'eq' },
  NumericNotEquals: { family: 'numeric', negated: true, compare: 'eq' },
  NumericLessThan: { family: 'numeric', negated: false, compare: 'lt' },
  NumericLessThanEquals: { family: 'numeric', negated: false, compare: 'le' },
  NumericGreaterThan: { family: 'numeric', negated: false, compare: 'gt' },
  NumericGreaterThanEquals: { family: 'numeric', negated: false, compare: 'ge' },
  DateEquals: { family: 'date', negated: false, compare: 'eq' },
  DateNotEquals: { family: 'date', negated: true, compare: 'eq' },
  DateLessThan: { family: 'date', negated: false, compare: 'lt' },
  DateLessThanEquals: { family: 'date', negated: false, compare: 'le' },
  DateGreaterThan: { family: 'date', negated: false, compare: 'gt' },
  DateGreaterThanEquals: { family: 'date', negated: false, compare: 'ge' },
  Bool: { family: 'bool', negated: false },
  BinaryEquals: { family: 'binary', negated: false },
  IpAddress: { family: 'ip', negated: false },
  NotIpAddress: { family: 'ip', negated: true },
  ArnEquals: { family: 'arn', negated: false },
  ArnLike: { family: 'arn', negated: false },
  ArnNotEquals: { family: 'arn', negated: true },
  ArnNotLike: { family: 'arn', negated: true },
  Null: { family: 'null', negated: false },
} satisfies Record<string, OperatorSpec>)

/** Operator names by lower-case spelling, so `stringequals` reads as `StringEquals`. */
const BY_LOWER = new Map(Object.keys(OPERATORS).map((k) => [k.toLowerCase(), k]))

/** Every base operator name, for documentation and tests. */
export const CONDITION_OPERATORS: readonly string[] = Object.keys(OPERATORS)

interface IpRange {
  readonly v6: boolean
  readonly bytes: Uint8Array
  readonly prefix: number
}

type CompiledValues =
  | { readonly family: 'string' | 'arn' | 'bool'; readonly patterns: readonly Pattern[] }
  | { readonly family: 'numeric' | 'date'; readonly numbers: readonly number[] }
  | { readonly family: 'binary'; readonly bytes: readonly string[] }
  | { readonly family: 'ip'; readonly ranges: readonly IpRange[] }
  | { readonly family: 'null'; readonly absent: boolean }

/** One condition: an operator applied to one condition key with one or more values. */
export interface ParsedCondition {
  /** The operator as written, e.g. `ForAnyValue:StringLikeIfExists`. */
  readonly operator: string
  /** The base operator, e.g. `StringLike`. */
  readonly base: string
  readonly set: 'ForAnyValue' | 'ForAllValues' | undefined
  readonly ifExists: boolean
  /** The condition key as written. */
  readonly keyName: string
  /** The condition key, lower-case. */
  readonly key: string
  /** Lower-case keys of the policy variables in the values. */
  readonly variables: readonly string[]
  readonly spec: OperatorSpec
  readonly values: CompiledValues
  /** The values' parts, case-folded for IgnoreCase, when no value has variables. */
  readonly fixed: ReadonlyArray<readonly Part[]> | undefined
}

function malformed(message: string): never {
  throw new KmsError('MalformedPolicyDocumentException', message)
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * Parses a statement's Condition element. `variables` is true for Version 2012-10-17 policies;
 * earlier versions read `${...}` literally.
 */
export function parseConditions(element: unknown, variables: boolean): ParsedCondition[] {
  if (!isObject(element)) malformed('The Condition element must be a JSON object.')
  const out: ParsedCondition[] = []
  for (const [operator, block] of Object.entries(element)) {
    const { base, set, ifExists } = parseOperator(operator)
    const spec = OPERATORS[base]!
    if (!isObject(block) || Object.keys(block).length === 0) malformed(`Condition operator ${operator} must map condition keys to values.`)
    for (const [keyName, raw] of Object.entries(block)) {
      if (!/^[A-Za-z0-9-]+:./.test(keyName)) malformed(`Condition key ${keyName} must be prefaced by a vendor, e.g. aws or kms.`)
      const list = Array.isArray(raw) ? raw : [raw]
      if (list.length === 0) malformed(`Condition key ${keyName} has no values.`)
      const strings = list.map((v) => {
        if (typeof v === 'string') return v
        if (typeof v === 'number' || typeof v === 'boolean') return String(v)
        return malformed(`Condition values for ${keyName} must be strings, numbers or booleans.`)
      })
      const values = compileValues(spec, strings, variables, operator, keyName)
      const patterns = 'patterns' in values ? values.patterns : []
      const fixed = patterns.every((p) => p.fixed !== undefined)
        ? patterns.map((p) => (spec.ignoreCase === true ? lowerParts(p.fixed!) : p.fixed!))
        : undefined
      const variableKeys = patterns.flatMap((p) => p.variables)
      out.push({ operator, base, set, ifExists, keyName, key: keyName.toLowerCase(), variables: variableKeys, spec, values, fixed })
    }
  }
  return out
}

function parseOperator(operator: string): { base: string; set: ParsedCondition['set']; ifExists: boolean } {
  let rest = operator
  let set: ParsedCondition['set']
  const colon = rest.indexOf(':')
  if (colon >= 0) {
    const qualifier = rest.slice(0, colon).toLowerCase()
    if (qualifier === 'foranyvalue') set = 'ForAnyValue'
    else if (qualifier === 'forallvalues') set = 'ForAllValues'
    else malformed(`Invalid condition set operator in ${operator}: use ForAnyValue or ForAllValues.`)
    rest = rest.slice(colon + 1)
  }
  let ifExists = false
  if (rest.toLowerCase().endsWith('ifexists')) {
    ifExists = true
    rest = rest.slice(0, -'IfExists'.length)
  }
  const base = BY_LOWER.get(rest.toLowerCase())
  /* Precondition: Every condition operator is one that AWS defines. */
  if (base === undefined) malformed(`Invalid condition operator: ${operator}`)
  /* Precondition: Null takes neither IfExists nor a set qualifier. */
  if (base === 'Null' && (ifExists || set !== undefined)) malformed(`Invalid condition operator: ${operator}`)
  return { base, set, ifExists }
}

function compileValues(spec: OperatorSpec, values: string[], variables: boolean, operator: string, key: string): CompiledValues {
  /* Precondition: Every condition value fits its operator. */
  const bad = (v: string): never => malformed(`Condition value ${JSON.stringify(v)} for ${key} is not valid for ${operator}.`)
  switch (spec.family) {
    case 'string':
      return { family: 'string', patterns: values.map((v) => compilePattern(v, { wildcards: spec.like === true, variables })) }
    case 'arn':
      return { family: 'arn', patterns: values.map((v) => compilePattern(v, { wildcards: true, variables })) }
    case 'bool':
      return {
        family: 'bool',
        patterns: values.map((v) => {
          const p = compilePattern(v, { wildcards: false, variables })
          if (p.variables.length === 0 && !/^(true|false)$/i.test(v)) bad(v)
          return p
        }),
      }
    case 'numeric':
      return { family: 'numeric', numbers: values.map((v) => parseNumber(v) ?? bad(v)) }
    case 'date':
      return { family: 'date', numbers: values.map((v) => parseDate(v) ?? bad(v)) }
    case 'binary':
      return { family: 'binary', bytes: values.map((v) => decodeBase64(v) ?? bad(v)) }
    case 'ip':
      return { family: 'ip', ranges: values.map((v) => parseCidr(v) ?? bad(v)) }
    case 'null': {
      if (values.length !== 1 || !/^(true|false)$/i.test(values[0]!)) bad(values.join(','))
      return { family: 'null', absent: values[0]!.toLowerCase() === 'true' }
    }
  }
}

/** Decides one condition against the request. */
export function conditionHolds(c: ParsedCondition, context: RequestContext): boolean {
  const raw: ContextValue | undefined = context.get(c.key)
  const present = raw !== undefined && (typeof raw === 'string' || raw.length > 0)
  if (c.values.family === 'null') return c.values.absent ? !present : present
  if (!present) {
    if (c.ifExists) return true
    if (c.set === 'ForAllValues') return true
    if (c.set === 'ForAnyValue') return false
    return c.spec.negated
  }
  const resolved = resolveValues(c, context)
  const count = valueCount(c.values)
  const holdsFor = (v: string): boolean => {
    // Three-valued per policy value: matched, not matched, or not comparable (a variable without a
    // value, or a request value of the wrong type). A negated operator needs a clear "no" from every value.
    let sawUnknown = false
    for (let i = 0; i < count; i++) {
      const r = compareOne(c, resolved?.[i], i, v)
      if (r === true) return !c.spec.negated
      if (r === undefined) sawUnknown = true
    }
    return c.spec.negated && !sawUnknown
  }
  if (typeof raw === 'string') return holdsFor(raw)
  if (c.set === 'ForAllValues') return raw.every(holdsFor)
  if (c.set === 'ForAnyValue') return raw.some(holdsFor)
  // A multi-valued key under a plain operator: a positive operator needs one matching value, a
  // negated one needs every value to match none.
  return c.spec.negated ? raw.every(holdsFor) : raw.some(holdsFor)
}

function valueCount(v: CompiledValues): number {
  switch (v.family) {
    case 'string':
    case 'arn':
    case 'bool':
      return v.patterns.length
    case 'numeric':
    case 'date':
      return v.numbers.length
    case 'binary':
      return v.bytes.length
    case 'ip':
      return v.ranges.length
    case 'null':
      return 0
  }
}

/** Substituted pattern parts for String/ARN/Bool values (undefined where a variable has no value). */
function resolveValues(c: ParsedCondition, context: RequestContext): ReadonlyArray<readonly Part[] | undefined> | undefined {
  if (!('patterns' in c.values)) return undefined
  if (c.fixed !== undefined) return c.fixed
  const out: Array<readonly Part[] | undefined> = []
  for (const p of c.values.patterns) {
    const parts = resolvePattern(p, context)
    out.push(parts !== undefined && c.spec.ignoreCase === true ? lowerParts(parts) : parts)
  }
  return out
}

/** Compares one request value with the i-th policy value under the positive form of the operator. */
function compareOne(c: ParsedCondition, parts: readonly Part[] | undefined, i: number, value: string): boolean | undefined {
  const v = c.values
  switch (v.family) {
    case 'string': {
      if (parts === undefined) return undefined
      const text = c.spec.ignoreCase === true ? value.toLowerCase() : value
      if (c.spec.like !== true) return literalOf(parts) === text
      return globMatch(parts, text)
    }
    case 'arn':
      return parts === undefined ? undefined : arnMatch(parts, value)
    case 'bool': {
      if (parts === undefined) return undefined
      const want = literalOf(parts)!.toLowerCase()
      const got = value.toLowerCase()
      if ((want !== 'true' && want !== 'false') || (got !== 'true' && got !== 'false')) return undefined
      return want === got
    }
    case 'numeric':
    case 'date': {
      const got = v.family === 'numeric' ? parseNumber(value) : parseDate(value)
      if (got === undefined) return undefined
      const want = v.numbers[i]!
      switch (c.spec.compare) {
        case 'lt': return got < want
        case 'le': return got <= want
        case 'gt': return got > want
        case 'ge': return got >= want
        default: return got === want
      }
    }
    case 'binary': {
      const got = decodeBase64(value)
      return got === undefined ? undefined : got === v.bytes[i]
    }
    case 'ip': {
      const got = parseIp(value)
      return got === undefined ? undefined : inRange(v.ranges[i]!, got)
    }
    case 'null':
      return undefined
  }
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/

/** Integer or decimal, as IAM's Numeric operators take; undefined when not a number. */
export function parseNumber(s: string): number | undefined {
  if (!NUMBER.test(s.trim())) return undefined
  const n = Number(s)
  return Number.isFinite(n) ? n : undefined
}

const W3C_DATE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/

/**
 * A date as milliseconds since the epoch: one of the W3C profiles of ISO 8601 (`2024`, `2024-05`,
 * `2024-05-01`, `2024-05-01T12:00Z`, `2024-05-01T12:00:00.5+02:00`; no zone means UTC) or epoch seconds.
 */
export function parseDate(s: string): number | undefined {
  const t = s.trim()
  if (/^-?\d+(?:\.\d+)?$/.test(t) && !/^\d{4}$/.test(t)) return Number(t) * 1000
  const m = W3C_DATE.exec(t)
  if (!m) return undefined
  const [, y, mo = '01', d = '01', h = '00', mi = '00', sec = '00', frac = '', zone = 'Z'] = m
  const year = Number(y), month = Number(mo), day = Number(d), hour = Number(h), minute = Number(mi), second = Number(sec)
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined
  let ms = Date.UTC(year, month - 1, day, hour, minute, second) + (frac ? Math.round(Number(frac) * 1000) : 0)
  if (new Date(Date.UTC(year, month - 1, day)).getUTCDate() !== day) return undefined
  if (zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1
    const zh = Number(zone.slice(1, 3)), zm = Number(zone.slice(4, 6))
    if (zh > 23 || zm > 59) return undefined
    ms -= sign * (zh * 60 + zm) * 60_000
  }
  return ms
}

/** Decodes standard base64 to a binary string (for byte-wise comparison); undefined when invalid. */
function decodeBase64(s: string): string | undefined {
  const t = s.trim()
  if (t.length % 4 === 1 || !/^[A-Za-z0-9+/]*={0,2}$/.test(t)) return undefined
  try {
    return atob(t)
  } catch {
    return undefined
  }
}

/** Parses an IPv4 or IPv6 address (no zone id); IPv4-mapped IPv6 becomes IPv4. */
export function parseIp(s: string): { v6: boolean; bytes: Uint8Array } | undefined {
  const t = s.trim()
  const v4 = parseIpv4(t)
  if (v4 !== undefined) return { v6: false, bytes: v4 }
  const v6 = parseIpv6(t)
  if (v6 === undefined) return undefined
  if (v6.slice(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff) return { v6: false, bytes: v6.slice(12) }
  return { v6: true, bytes: v6 }
}

function parseIpv4(s: string): Uint8Array | undefined {
  const parts = s.split('.')
  if (parts.length !== 4) return undefined
  const out = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined
    out[i] = Number(p)
  }
  return out
}

function parseIpv6(s: string): Uint8Array | undefined {
  if (!/^[0-9A-Fa-f:.]+$/.test(s)) return undefined
  const halves = s.split('::')
  if (halves.length > 2) return undefined
  const groups = (h: string): number[] | undefined => {
    if (h === '') return []
    const out: number[] = []
    const items = h.split(':')
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!
      if (i === items.length - 1 && item.includes('.')) {
        const v4 = parseIpv4(item)
        if (v4 === undefined) return undefined
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!)
      } else {
        if (!/^[0-9A-Fa-f]{1,4}$/.test(item)) return undefined
        out.push(parseInt(item, 16))
      }
    }
    return out
  }
  const head = groups(halves[0]!)
  const tail = halves.length === 2 ? groups(halves[1]!) : []
  if (head === undefined || tail === undefined) return undefined
  const missing = 8 - head.length - tail.length
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined
  const all = [...head, ...new Array<number>(missing).fill(0), ...tail]
  const bytes = new Uint8Array(16)
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8
    bytes[2 * i + 1] = g & 0xff
  })
  return bytes
}

/** `203.0.113.0/24`, `2001:DB8::/32`, or a bare address (a /32 or /128 range). */
export function parseCidr(s: string): IpRange | undefined {
  const [addr, prefixText, ...more] = s.trim().split('/')
  if (more.length > 0 || addr === undefined) return undefined
  const v4 = parseIpv4(addr)
  const v6 = v4 === undefined ? parseIpv6(addr) : undefined
  if (v4 === undefined && v6 === undefined) return undefined
  const ip = { v6: v4 === undefined, bytes: (v4 ?? v6)! }
  const max = ip.v6 ? 128 : 32
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined
  const prefix = prefixText === undefined ? max : Number(prefixText)
  if (prefix > max) return undefined
  return { v6: ip.v6, bytes: ip.bytes, prefix }
}

function inRange(range: IpRange, ip: { v6: boolean; bytes: Uint8Array }): boolean {
  if (range.v6 !== ip.v6) return false
  let bits = range.prefix
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff
    if ((range.bytes[i]! & mask) !== (ip.bytes[i]! & mask)) return false
  }
  return true
}
