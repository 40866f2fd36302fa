/**
 * The authorisation decision for one KMS request, as AWS KMS makes it (KMS Developer Guide,
 * "KMS key access and permissions", "Default key policy", "Allowing users in other accounts"):
 *
 * 1. An explicit Deny in the key policy or in the caller's identity policies wins.
 * 2. The key policy is the gate. It allows the caller directly (its ARN, its role, `*`), or it
 *    trusts the caller's account (`arn:aws:iam::<acct>:root` or the bare id), in which case the
 *    caller's identity policies must allow the action. "Without this permission, IAM policies that
 *    allow access to the key are ineffective, although IAM policies that deny access to the key
 *    are still effective."
 * 3. A caller from another account needs both: the key policy must allow it (directly or through
 *    its account) and its own identity policies must allow it.
 * 4. Grants only allow: for their key, grantee, operations and constraints.
 *
 * The result names the statements or grant that decided, for administrators; callers only ever
 * see {@link accessDeniedMessage}.
 */

import { KmsError } from '../core/errors.js'
import { conditionHolds } from './conditions.js'
import type { AuthzRequest, RequestPrincipal } from './context.js'
import { grantCovers, grantsWithOperation, matchGrantee, type Grant } from './grants.js'
import { arnMatch, globMatch, resolvePattern } from './pattern.js'
import type { ActionSpec, ParsedPolicy, ParsedStatement, PrincipalSpec } from './policy-document.js'

/** The policies that bear on one request. */
export interface PolicySet {
  /** The key's policy, parsed with `kind: 'key'`. */
  readonly keyPolicy: ParsedPolicy
  /** The caller's identity policies (user policies, or the role's for a role session), parsed with `kind: 'identity'`. */
  readonly identityPolicies?: readonly ParsedPolicy[]
  /** The key's grants. */
  readonly grants?: readonly Grant[]
}

/** A statement or grant that took part in a decision. */
export type Decider =
  | { readonly kind: 'key-policy'; readonly statementIndex: number; readonly sid: string | undefined; readonly effect: 'Allow' | 'Deny' }
  | {
      readonly kind: 'identity-policy'
      readonly policyIndex: number
      readonly policyName: string | undefined
      readonly statementIndex: number
      readonly sid: string | undefined
      readonly effect: 'Allow' | 'Deny'
    }
  | { readonly kind: 'grant'; readonly grantId: string; readonly name: string | undefined }
  /** The account root user: identity policies never limit it. */
  | { readonly kind: 'root-user' }

/** Which side refused, in AWS's terms (it shapes the AccessDeniedException message). */
export type DenialCause =
  | 'explicit-deny-in-key-policy'
  | 'explicit-deny-in-identity-policy'
  | 'explicit-deny-in-session-policy'
  | 'no-key-policy-allow'
  | 'no-identity-policy-allow'
  | 'no-session-policy-allow'

/** The outcome of {@link evaluate}. */
export interface Decision {
  readonly decision: 'Allow' | 'ExplicitDeny' | 'ImplicitDeny'
  /**
   * Allow: the statements/grant that together allowed (e.g. the key policy's account-trust
   * statement and the identity policy statement). ExplicitDeny: the denying statement.
   * ImplicitDeny: the statement that was found on the side that did allow, if any.
   */
  readonly decidedBy: readonly Decider[]
  /** Set for denials. */
  readonly cause: DenialCause | undefined
  /** One sentence for administrators. Never send it to callers: it describes policy contents. */
  readonly explanation: string
}

type KeyPolicyMatch = 'direct' | 'account' | 'none'

/** Evaluates one request against the key policy, the caller's identity policies and the key's grants. */
export function evaluate(request: AuthzRequest, policies: PolicySet): Decision {
  const p = request.principal
  /* Precondition: The caller and the key each belong to a 12-digit account. */
  if (!isAccountId(p.account) || !isAccountId(request.resource.account)) {
    throw new TypeError('evaluate: principal.account and resource.account must be 12-digit account ids')
  }
  /* Precondition: The key policy is a key policy and the identity policies are identity policies. */
  if (policies.keyPolicy.kind !== 'key' || (policies.identityPolicies ?? []).some((ip) => ip.kind !== 'identity')) {
    throw new TypeError('evaluate: keyPolicy must be parsed as kind "key" and identityPolicies as kind "identity"')
  }
  const action = request.action.toLowerCase()
  const identityPolicies = policies.identityPolicies ?? []

  // 1. Explicit denies, in document order: the key policy first, then identity policies.
  for (const s of policies.keyPolicy.statements) {
    if (s.effect === 'Deny' && s.effective && deniesPrincipal(s.principal!, p) && applies(s, action, request)) {
      return deny('ExplicitDeny', [keyDecider(s)], 'explicit-deny-in-key-policy', `key policy statement ${label(s)} denies ${request.action}`)
    }
  }
  for (let i = 0; i < identityPolicies.length; i++) {
    const policy = identityPolicies[i]!
    for (const s of policy.statements) {
      if (s.effect === 'Deny' && applies(s, action, request)) {
        return deny('ExplicitDeny', [identityDecider(policy, i, s)], 'explicit-deny-in-identity-policy', `identity policy ${policyLabel(policy, i)} statement ${label(s)} denies ${request.action}`)
      }
    }
  }

  // 2. What the key policy allows: directly, or through trust in the caller's account.
  let direct: ParsedStatement | undefined
  let viaAccount: ParsedStatement | undefined
  for (const s of policies.keyPolicy.statements) {
    if (s.effect !== 'Allow' || !s.effective) continue
    const m = allowsPrincipal(s.principal!, p)
    if (m === 'none' || (m === 'direct' && direct) || (m === 'account' && viaAccount)) continue
    if (!applies(s, action, request)) continue
    if (m === 'direct') direct = s
    else viaAccount = s
    if (direct) break
  }

  // The identity side, found once on demand. The root user is not limited by identity policies.
  let identity: Decider | null | undefined
  const identityAllow = (): Decider | null => {
    if (identity !== undefined) return identity
    identity = null
    if (p.type === 'root') return (identity = { kind: 'root-user' })
    for (let i = 0; i < identityPolicies.length && identity === null; i++) {
      const policy = identityPolicies[i]!
      for (const s of policy.statements) {
        if (s.effect === 'Allow' && applies(s, action, request)) {
          identity = identityDecider(policy, i, s)
          break
        }
      }
    }
    return identity
  }

  const crossAccount = p.account !== request.resource.account
  if (!crossAccount && direct) return allow([keyDecider(direct)], `key policy statement ${label(direct)} allows the caller`)
  const keySide = direct ?? viaAccount
  if (keySide) {
    const id = identityAllow()
    if (id) {
      const how = crossAccount ? 'the caller from another account' : `account ${p.account}`
      return allow([keyDecider(keySide), id], `key policy statement ${label(keySide)} allows ${how} and ${describe(id)} allows ${request.action}`)
    }
  }

  // 3. Grants.
  for (const g of grantsWithOperation(policies.grants ?? [], action)) {
    const m = matchGrantee(g.granteePrincipal, request)
    if (m === 'none' || !grantCovers(g, request, action)) continue
    if (m === 'direct') return allow([grantDecider(g)], `grant ${g.grantId} allows ${request.action}`)
    const id = identityAllow()
    if (id) return allow([grantDecider(g), id], `grant ${g.grantId} to account ${p.account} and ${describe(id)} allow ${request.action}`)
  }

  if (keySide) {
    const side = crossAccount ? `allows the caller from account ${p.account}` : `trusts account ${p.account}`
    return deny('ImplicitDeny', [keyDecider(keySide)], 'no-identity-policy-allow', `key policy statement ${label(keySide)} ${side}, but no identity policy of the caller allows ${request.action} on this key`)
  }
  return deny('ImplicitDeny', [], 'no-key-policy-allow', `no key policy statement or grant allows ${request.action} for ${p.arn}`)
}

/** True when every part of the statement other than the principal matches: action, resource, conditions. */
function applies(s: ParsedStatement, action: string, request: AuthzRequest): boolean {
  return actionMatches(s, action) && resourceMatches(s, request) && s.conditions.every((c) => conditionHolds(c, request.context))
}

function actionMatches(s: ParsedStatement, action: string): boolean {
  const a = s.actions
  // Actions come from the operations Trent serves, a small fixed set: the answer per statement is kept.
  let known = actionsOf.get(a)
  if (known === undefined) actionsOf.set(a, (known = new Map()))
  let matches = known.get(action)
  if (matches === undefined) {
    let hit = a.exact.has(action)
    for (let i = 0; !hit && i < a.patterns.length; i++) hit = globMatch(a.patterns[i]!, action)
    matches = hit !== a.negated
    if (known.size < MAX_ACTIONS_KEPT) known.set(action, matches)
  }
  return matches
}

const actionsOf = new WeakMap<ActionSpec, Map<string, boolean>>()
const MAX_ACTIONS_KEPT = 256

/** A 12-digit account id (the regex equivalent, without one on every decision). */
function isAccountId(s: string): boolean {
  if (s.length !== 12) return false
  for (let i = 0; i < 12; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x30 || c > 0x39) return false
  }
  return true
}

function resourceMatches(s: ParsedStatement, request: AuthzRequest): boolean {
  const r = s.resources
  let hit = false
  for (const pattern of r.patterns) {
    const parts = resolvePattern(pattern, request.context)
    // A variable without a value: the pattern matches nothing, and a NotResource cannot be decided.
    if (parts === undefined) {
      if (r.negated) return false
      continue
    }
    if (arnMatch(parts, request.resource.arn)) {
      hit = true
      break
    }
  }
  return hit !== r.negated
}

/**
 * How an Allow statement's principal relates to the caller. A role names its sessions too; an
 * account names its root user directly and its other principals through their IAM policies.
 * NotPrincipal with Allow (which AWS advises against) allows only callers none of whose
 * identities — the caller, its role, its account — is listed.
 */
function allowsPrincipal(spec: PrincipalSpec, p: RequestPrincipal): KeyPolicyMatch {
  if (spec.negated) return spec.everyone || listed(spec, p.arn) || listed(spec, sessionRole(p)) || spec.accounts.has(p.account) ? 'none' : 'direct'
  if (spec.everyone || listed(spec, p.arn) || listed(spec, sessionRole(p))) return 'direct'
  if (spec.accounts.has(p.account)) return p.type === 'root' ? 'direct' : 'account'
  return 'none'
}

/**
 * Whether a Deny statement's principal covers the caller. Naming the caller's account denies
 * every principal in it. NotPrincipal exempts a caller only when the caller, its role (for a role
 * session) and its account are all listed: AWS may check the account and role before the session,
 * and documents that leaving them out can deny the whole account (IAM, "NotPrincipal").
 */
function deniesPrincipal(spec: PrincipalSpec, p: RequestPrincipal): boolean {
  if (spec.negated) {
    if (spec.everyone) return false
    const self = p.type === 'root' || listed(spec, p.arn)
    const role = p.type !== 'assumed-role' || listed(spec, sessionRole(p))
    return !(self && role && spec.accounts.has(p.account))
  }
  return spec.everyone || listed(spec, p.arn) || listed(spec, sessionRole(p)) || spec.accounts.has(p.account)
}

const sessionRole = (p: RequestPrincipal): string | undefined => (p.type === 'assumed-role' ? p.roleArn : undefined)
const listed = (spec: PrincipalSpec, arn: string | undefined): boolean => arn !== undefined && spec.arns.has(arn)

const labels = new WeakMap<ParsedStatement, string>()
function label(s: ParsedStatement): string {
  let l = labels.get(s)
  if (l === undefined) labels.set(s, (l = s.sid ? `#${s.index} (${JSON.stringify(s.sid)})` : `#${s.index}`))
  return l
}
const policyLabel = (policy: ParsedPolicy, i: number): string => (policy.name ? JSON.stringify(policy.name) : `#${i}`)

function describe(d: Decider): string {
  switch (d.kind) {
    case 'root-user': return 'the account root user (not limited by identity policies)'
    case 'identity-policy': return `identity policy ${d.policyName ? JSON.stringify(d.policyName) : `#${d.policyIndex}`} statement #${d.statementIndex}${d.sid ? ` (${JSON.stringify(d.sid)})` : ''}`
    case 'grant': return `grant ${d.grantId}`
    case 'key-policy': return `key policy statement #${d.statementIndex}`
  }
}

const keyDecider = (s: ParsedStatement): Decider => ({ kind: 'key-policy', statementIndex: s.index, sid: s.sid, effect: s.effect })
const identityDecider = (policy: ParsedPolicy, i: number, s: ParsedStatement): Decider => ({
  kind: 'identity-policy',
  policyIndex: i,
  policyName: policy.name,
  statementIndex: s.index,
  sid: s.sid,
  effect: s.effect,
})
const grantDecider = (g: Grant): Decider => ({ kind: 'grant', grantId: g.grantId, name: g.name })

const allow = (decidedBy: Decider[], explanation: string): Decision => ({ decision: 'Allow', decidedBy, cause: undefined, explanation })
const deny = (decision: 'ExplicitDeny' | 'ImplicitDeny', decidedBy: Decider[], cause: DenialCause, explanation: string): Decision => ({
  decision,
  decidedBy,
  cause,
  explanation,
})

/**
 * AWS's AccessDeniedException message for a denial: names the caller, action and key and which
 * kind of policy refused, never what the policies say.
 *
 * @example "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:…:key/… because no resource-based policy allows the kms:Decrypt action"
 */
export function accessDeniedMessage(request: AuthzRequest, decision: Decision): string {
  const head = `User: ${request.principal.arn} is not authorized to perform: ${request.action} on resource: ${request.resource.arn}`
  switch (decision.cause) {
    case 'explicit-deny-in-key-policy': return `${head} with an explicit deny in a resource-based policy`
    case 'explicit-deny-in-identity-policy': return `${head} with an explicit deny in an identity-based policy`
    case 'no-identity-policy-allow': return `${head} because no identity-based policy allows the ${request.action} action`
    case 'explicit-deny-in-session-policy': return `${head} with an explicit deny in a session policy`
    case 'no-session-policy-allow': return `${head} because no session policy allows the ${request.action} action`
    default: return `${head} because no resource-based policy allows the ${request.action} action`
  }
}

/** The AccessDeniedException to throw for a denial (see {@link accessDeniedMessage}). */
export function accessDenied(request: AuthzRequest, decision: Decision): KmsError {
  return new KmsError('AccessDeniedException', accessDeniedMessage(request, decision))
}
