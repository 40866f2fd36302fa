/**
 * Parsing policy documents (key policies and IAM identity policies) into a validated, normalised
 * form. Parse once when a policy is stored or loaded and cache the result: evaluation then does no
 * string parsing beyond what policy variables need.
 */

import { KmsError } from '../core/errors.js'
import { parseConditions, type ParsedCondition } from './conditions.js'
import { compilePattern, lowerParts, type Part, type Pattern } from './pattern.js'

/** A key policy (a resource policy: statements name principals) or an IAM identity policy (they do not). */
export type PolicyKind = 'key' | 'identity'

/** Who a statement's Principal or NotPrincipal names. */
export interface PrincipalSpec {
  /** True for NotPrincipal. */
  readonly negated: boolean
  /** `"*"` or `{"AWS": "*"}`: everyone. */
  readonly everyone: boolean
  /** Accounts named by id or by `arn:<partition>:iam::<id>:root`. */
  readonly accounts: ReadonlySet<string>
  /** IAM user, role, assumed-role and federated-user ARNs (and unique ids of deleted principals), exactly as written. */
  readonly arns: ReadonlySet<string>
  /** Service, Federated and CanonicalUser principals: parsed, but no Trent caller is one of them. */
  readonly others: readonly string[]
}

/** A statement's Action or NotAction: patterns matched case-insensitively. */
export interface ActionSpec {
  readonly negated: boolean
  /** Lower-case action names without wildcards. */
  readonly exact: ReadonlySet<string>
  /** Lower-cased patterns with wildcards. */
  readonly patterns: readonly (readonly Part[])[]
}

/** A statement's Resource or NotResource: `*` or ARN patterns, case-sensitive. */
export interface ResourceSpec {
  readonly negated: boolean
  readonly patterns: readonly Pattern[]
}

/** One statement, normalised. */
export interface ParsedStatement {
  /** Position in the policy's Statement list, from 0. */
  readonly index: number
  readonly sid: string | undefined
  readonly effect: 'Allow' | 'Deny'
  /**
   * False for a key policy statement without Action/NotAction or Resource/NotResource: AWS KMS
   * accepts such a policy but the statement has no effect (KMS API Reference, CreateKey Policy).
   */
  readonly effective: boolean
  /** Key policies only. */
  readonly principal: PrincipalSpec | undefined
  readonly actions: ActionSpec
  readonly resources: ResourceSpec
  readonly conditions: readonly ParsedCondition[]
  /** Lower-case condition keys the statement depends on, including those used as policy variables. */
  readonly referencedKeys: ReadonlySet<string>
}

/** A validated policy document. Immutable; safe to cache and share. */
export interface ParsedPolicy {
  readonly kind: PolicyKind
  /** A name for explanations (e.g. the IAM policy name); not part of the document. */
  readonly name: string | undefined
  /** `2012-10-17` or `2008-10-17` (the default). Policy variables need 2012-10-17. */
  readonly version: string
  readonly id: string | undefined
  readonly statements: readonly ParsedStatement[]
}

/** Options for {@link parsePolicy}. */
export interface ParseOptions {
  readonly kind: PolicyKind
  /** A name to show in explanations (e.g. the IAM policy name). */
  readonly name?: string
}

const TOP_LEVEL = new Set(['Version', 'Id', 'Statement'])
const STATEMENT = new Set(['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition'])
const PRINCIPAL_TYPES = new Set(['AWS', 'Service', 'Federated', 'CanonicalUser'])
const INVALID_PRINCIPAL = 'Policy contains a statement with one or more invalid principals.'

function malformed(message: string): never {
  throw new KmsError('MalformedPolicyDocumentException', message)
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** A string or a non-empty list of strings, as a list; undefined otherwise. */
function stringList(v: unknown): string[] | undefined {
  if (typeof v === 'string') return [v]
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')) return v as string[]
  return undefined
}

/**
 * Parses and validates a policy document. Throws `MalformedPolicyDocumentException` for grammar
 * errors. Size limits are the caller's (KMS: 32 KiB for key policies).
 *
 * @example
 * const keyPolicy = parsePolicy(json, { kind: 'key' })
 * const userPolicy = parsePolicy(json, { kind: 'identity', name: 'AllowDecrypt' })
 */
export function parsePolicy(document: string | unknown, options: ParseOptions): ParsedPolicy {
  let doc: unknown = document
  if (typeof document === 'string') {
    try {
      doc = JSON.parse(document)
    } catch {
      malformed('The policy is not a valid JSON document.')
    }
  }
  /* Precondition: A policy document is a JSON object. */
  if (!isObject(doc)) malformed('The policy must be a JSON object.')
  for (const k of Object.keys(doc)) if (!TOP_LEVEL.has(k)) malformed(`The policy contains an unknown element: ${k}`)
  const version = doc['Version'] ?? '2008-10-17'
  if (version !== '2012-10-17' && version !== '2008-10-17') malformed('The policy Version must be "2012-10-17" or "2008-10-17".')
  const id = doc['Id']
  if (id !== undefined && typeof id !== 'string') malformed('The policy Id must be a string.')
  const raw = doc['Statement']
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]
  /* Precondition: A policy has at least one statement. */
  if (list.length === 0) malformed('The policy must contain at least one statement.')
  const variables = version === '2012-10-17'
  const statements = list.map((s, index) => parseStatement(s, index, options.kind, variables))
  if (options.kind === 'identity') {
    const sids = statements.flatMap((s) => (s.sid ? [s.sid] : []))
    if (new Set(sids).size !== sids.length) malformed('Statement IDs (SID) in a single policy must be unique.')
  }
  return Object.freeze({ kind: options.kind, name: options.name, version, id, statements: Object.freeze(statements) })
}

function parseStatement(s: unknown, index: number, kind: PolicyKind, variables: boolean): ParsedStatement {
  if (!isObject(s)) malformed('Each policy statement must be a JSON object.')
  for (const k of Object.keys(s)) if (!STATEMENT.has(k)) malformed(`Policy statement contains an unknown element: ${k}`)
  const sid = s['Sid']
  if (sid !== undefined && typeof sid !== 'string') malformed('Sid must be a string.')
  const effect = s['Effect']
  if (effect !== 'Allow' && effect !== 'Deny') malformed('Policy statement Effect must be "Allow" or "Deny".')

  let principal: PrincipalSpec | undefined
  const hasPrincipal = s['Principal'] !== undefined
  const hasNotPrincipal = s['NotPrincipal'] !== undefined
  if (kind === 'key') {
    /* Precondition: A key policy statement names exactly one of Principal or NotPrincipal. */
    if (hasPrincipal === hasNotPrincipal) malformed(hasPrincipal ? 'Policy statement cannot contain both Principal and NotPrincipal.' : 'Policy contains a statement with no principal.')
    principal = parsePrincipal(hasPrincipal ? s['Principal'] : s['NotPrincipal'], hasNotPrincipal)
  } else {
    /* Precondition: An identity policy statement names no principal. */
    if (hasPrincipal || hasNotPrincipal) malformed('Policy document should not specify a principal.')
  }

  if (s['Action'] !== undefined && s['NotAction'] !== undefined) malformed('Policy statement cannot contain both Action and NotAction.')
  if (s['Resource'] !== undefined && s['NotResource'] !== undefined) malformed('Policy statement cannot contain both Resource and NotResource.')
  const actionRaw = s['Action'] ?? s['NotAction']
  const resourceRaw = s['Resource'] ?? s['NotResource']
  if (kind === 'identity') {
    if (actionRaw === undefined) malformed('Policy statement must contain actions.')
    if (resourceRaw === undefined) malformed('Policy statement must contain resources.')
  }
  const effective = actionRaw !== undefined && resourceRaw !== undefined
  const actions = actionRaw === undefined ? { negated: false, exact: new Set<string>(), patterns: [] } : parseActions(actionRaw, s['NotAction'] !== undefined)
  const resources = resourceRaw === undefined ? { negated: false, patterns: [] } : parseResources(resourceRaw, s['Resource'] === undefined, kind, variables)
  const conditions = s['Condition'] === undefined ? [] : parseConditions(s['Condition'], variables)

  const referencedKeys = new Set<string>()
  for (const c of conditions) {
    referencedKeys.add(c.key)
    for (const v of c.variables) referencedKeys.add(v)
  }
  for (const p of resources.patterns) for (const v of p.variables) referencedKeys.add(v)

  return Object.freeze({ index, sid, effect, effective, principal, actions, resources, conditions, referencedKeys })
}

function parsePrincipal(p: unknown, negated: boolean): PrincipalSpec {
  if (p === '*') return { negated, everyone: true, accounts: new Set(), arns: new Set(), others: [] }
  if (!isObject(p) || Object.keys(p).length === 0) malformed(INVALID_PRINCIPAL)
  let everyone = false
  const accounts = new Set<string>()
  const arns = new Set<string>()
  const others: string[] = []
  for (const [type, value] of Object.entries(p)) {
    const values = stringList(value)
    if (!PRINCIPAL_TYPES.has(type) || values === undefined) malformed(INVALID_PRINCIPAL)
    for (const v of values) {
      if (type !== 'AWS') {
        if (v.includes('*') && v !== '*') malformed(INVALID_PRINCIPAL)
        others.push(`${type}:${v}`)
        continue
      }
      /* Precondition: An AWS principal is "*", an account id, an IAM or STS ARN, or a unique id, without partial wildcards. */
      if (v === '*') everyone = true
      else if (/^\d{12}$/.test(v)) accounts.add(v)
      else if (/^arn:[a-z-]+:iam::\d{12}:root$/.test(v)) accounts.add(v.split(':')[4]!)
      else if (/^arn:[a-z-]+:(iam|sts)::\d{12}:[^*?]+$/.test(v)) arns.add(v)
      else if (/^A[A-Z0-9]{15,127}$/.test(v)) arns.add(v)
      else malformed(INVALID_PRINCIPAL)
    }
  }
  return { negated, everyone, accounts, arns, others }
}

const ACTION = /^(\*|[A-Za-z0-9-]+:[^\s:]+)$/

function parseActions(raw: unknown, negated: boolean): ActionSpec {
  const values = stringList(raw)
  if (values === undefined) malformed('Policy statement Action must be a string or a non-empty list of strings.')
  const exact = new Set<string>()
  const patterns: Part[][] = []
  for (const v of values) {
    if (!ACTION.test(v)) malformed(`Actions must be prefaced by a vendor, e.g. kms: ${JSON.stringify(v)}`)
    const lower = v.toLowerCase()
    // "The prefix and the action name are case insensitive" (IAM, Action element).
    if (!lower.includes('*') && !lower.includes('?')) exact.add(lower)
    else patterns.push(lowerParts(compilePattern(lower, { wildcards: true, variables: false }).fixed!))
  }
  return { negated, exact, patterns }
}

function parseResources(raw: unknown, negated: boolean, kind: PolicyKind, variables: boolean): ResourceSpec {
  const values = stringList(raw)
  if (values === undefined) malformed('Policy statement Resource must be a string or a non-empty list of strings.')
  const patterns = values.map((v) => {
    if (v !== '*' && kind === 'identity' && !/^arn:[^:]*:[^:]*:[^:]*:[^:]*:./.test(v)) malformed(`Resource ${v} must be in ARN format or "*".`)
    if (v === '*') return compilePattern(v, { wildcards: true, variables: false })
    // Variables are honoured only in the resource part of the ARN, after the fifth colon (IAM,
    // "Where you can use policy variables").
    const cut = nthIndexOf(v, ':', 5)
    if (!variables || cut < 0) return compilePattern(v, { wildcards: true, variables: false })
    const head = compilePattern(v.slice(0, cut + 1), { wildcards: true, variables: false })
    const tail = compilePattern(v.slice(cut + 1), { wildcards: true, variables: true })
    return {
      source: v,
      tokens: [...head.tokens, ...tail.tokens],
      variables: tail.variables,
      fixed: tail.fixed === undefined ? undefined : Object.freeze([...head.fixed!, ...tail.fixed]),
    }
  })
  return { negated, patterns }
}

function nthIndexOf(s: string, c: string, n: number): number {
  let at = -1
  for (let i = 0; i < n; i++) {
    at = s.indexOf(c, at + 1)
    if (at < 0) return -1
  }
  return at
}
