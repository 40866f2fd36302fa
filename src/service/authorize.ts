import {
  accessDenied,
  buildRequest,
  evaluate,
  parsePolicy,
  type AuthzRequest,
  type Decision,
  type Grant,
  type KeyResource,
  type ParsedPolicy,
  type RequestContext,
  type RequestFacts,
  type RequestPrincipal,
} from '../policy/index.js'
import type { GrantRecord, KeyRecord } from '../store/store.js'
import type { Caller, ServiceDeps } from './deps.js'
import { evaluatorGrant, MAX_GRANTS_PER_KEY } from './grants.js'

/** What a decision reads: the store (key policy, grants, user policies), the clock and the partition. */
export type PolicyDeps = Pick<ServiceDeps, 'store' | 'clock' | 'partition'>

/** What an operation adds to the principal and key when it asks for a decision. */
export type RequestDetails = Omit<RequestFacts, 'principal' | 'action' | 'resource' | 'time'>

const parsed = new Map<string, ParsedPolicy>()
const MAX_PARSED = 1000

/** Parses a key policy once per distinct text: stored policies are re-read on every request. */
export function parsedKeyPolicy(policy: string): ParsedPolicy {
  let p = parsed.get(policy)
  if (!p) {
    p = parsePolicy(policy, { kind: 'key' })
    if (parsed.size >= MAX_PARSED) parsed.delete(parsed.keys().next().value as string)
    parsed.set(policy, p)
  }
  return p
}

/** `kms:RequestAlias` when the caller named the key by an alias (name or alias ARN). */
export function requestAlias(keyIdInput: string): { requestAlias?: string } {
  const i = keyIdInput.indexOf('alias/')
  return i === 0 || (i > 0 && keyIdInput.startsWith('arn:')) ? { requestAlias: keyIdInput.slice(i) } : {}
}

/** The caller as the policy language sees it. */
export function requestPrincipal(caller: Caller): RequestPrincipal {
  // No spread here: it is on the request path, where V8 builds spread literals slowly.
  if (caller.role) {
    return {
      arn: caller.principalArn,
      account: caller.accountId,
      type: 'assumed-role',
      roleArn: caller.role.roleArn,
      userId: `${caller.role.roleId}:${caller.role.sessionName}`,
      tags: caller.tags,
    }
  }
  if (caller.user) {
    return { arn: caller.principalArn, account: caller.accountId, type: 'user', userId: caller.user.userId, username: caller.user.userName, tags: caller.tags }
  }
  return { arn: caller.principalArn, account: caller.accountId, type: 'root', userId: caller.accountId }
}

const parsedIdentity = new Map<string, ParsedPolicy>()

/** Parses an identity (IAM user) policy once per distinct text. */
export function parsedIdentityPolicy(policy: string): ParsedPolicy {
  let p = parsedIdentity.get(policy)
  if (!p) {
    p = parsePolicy(policy, { kind: 'identity' })
    if (parsedIdentity.size >= MAX_PARSED) parsedIdentity.delete(parsedIdentity.keys().next().value as string)
    parsedIdentity.set(policy, p)
  }
  return p
}

/** The caller's identity policies: an IAM user's or assumed role's inline policies; none for the account root. */
export async function identityPoliciesOf(deps: PolicyDeps, caller: Caller): Promise<readonly ParsedPolicy[] | undefined> {
  if (caller.role) {
    const stored = await deps.store.listRolePolicies(caller.accountId, caller.role.roleName)
    return stored.map((p) => parsedIdentityPolicy(p.document))
  }
  if (!caller.user) return undefined
  const stored = await deps.store.listUserPolicies(caller.accountId, caller.user.userName)
  return stored.map((p) => parsedIdentityPolicy(p.document))
}

/**
 * Limits an Allow for a role session by the session policy passed to AssumeRole (IAM User Guide,
 * "Session policies"): the session may do only what the session policy allows too, and an explicit
 * Deny in it wins. A resource-based policy statement that names the session's own ARN is not
 * limited (its permissions are added after the session was created); `resourcePolicy` is the one
 * that took part in `decision` (the key policy, a trust policy).
 */
export function limitBySessionPolicy(
  deps: Pick<ServiceDeps, 'partition'>,
  caller: Caller,
  request: AuthzRequest,
  decision: Decision,
  resourcePolicy: ParsedPolicy,
): Decision {
  const document = caller.role?.sessionPolicy
  if (document === undefined || decision.decision !== 'Allow') return decision
  const [first, ...others] = decision.decidedBy
  if (others.length === 0 && first?.kind === 'key-policy' && resourcePolicy.statements[first.statementIndex]?.principal?.arns.has(caller.principalArn)) {
    return decision
  }
  const session = evaluate(request, { keyPolicy: accountTrust(deps.partition, caller.accountId), identityPolicies: [parsedIdentityPolicy(document)] })
  if (session.decision === 'Allow') return decision
  const explicit = session.decision === 'ExplicitDeny'
  return {
    decision: session.decision,
    decidedBy: session.decidedBy,
    cause: explicit ? 'explicit-deny-in-session-policy' : 'no-session-policy-allow',
    explanation: explicit ? `the session policy denies ${request.action}` : `${decision.explanation}, but the session policy does not allow ${request.action}`,
  }
}

/** A key policy that trusts the caller's account, so only identity policies decide. */
function accountTrust(partition: string, accountId: string): ParsedPolicy {
  return parsedKeyPolicy(
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:${partition}:iam::${accountId}:root` }, Action: '*', Resource: '*' }],
    }),
  )
}

/**
 * Decides an action that no key policy governs (kms:CreateKey, kms:ListKeys, iam:CreateUser, ...):
 * the account root may always; an IAM user only when an identity policy allows and none denies.
 * Throws AccessDeniedException with AWS's message otherwise.
 */
export async function authorizeByIdentity(deps: ServiceDeps, caller: Caller, action: string, resourceArn = '*'): Promise<void> {
  if (!caller.user && !caller.role) return
  const identityPolicies = (await identityPoliciesOf(deps, caller)) ?? []
  const request = buildRequest({
    principal: requestPrincipal(caller),
    action,
    resource: { arn: resourceArn, account: caller.accountId },
    time: new Date(deps.clock.now()),
    ...(caller.sourceIp === undefined ? {} : { sourceIp: caller.sourceIp }),
    secureTransport: false,
  })
  const keyPolicy = accountTrust(deps.partition, caller.accountId)
  const decision = limitBySessionPolicy(deps, caller, request, evaluate(request, { keyPolicy, identityPolicies }), keyPolicy)
  if (decision.decision !== 'Allow') throw accessDenied(request, decision)
}

/** The key as the policy language sees it (aws:ResourceTag, kms:KeySpec, ...). */
export function keyResource(key: KeyRecord): KeyResource {
  return {
    arn: key.arn,
    account: key.accountId,
    keySpec: key.keySpec,
    keyUsage: key.keyUsage,
    keyOrigin: key.origin,
    tags: Object.fromEntries(key.tags.map((t) => [t.TagKey, t.TagValue])),
  }
}

/**
 * Decides whether the caller may perform `action` (e.g. `kms:Encrypt`) on `key`, as AWS KMS does:
 * the key policy is the gate, explicit denies win, identity policies count where the key policy
 * trusts the account, grants allow. Throws AccessDeniedException with AWS's message otherwise;
 * which statement decided is never told to the caller.
 */
export async function authorize(deps: ServiceDeps, caller: Caller, key: KeyRecord, action: string, details: RequestDetails = {}): Promise<void> {
  const { request, decision } = await decide(deps, caller, key, action, details)
  if (decision.decision !== 'Allow') throw accessDenied(request, decision)
}

/** The decision behind {@link authorize}, with the statements or grant that made it (for administrators). */
export async function decide(
  deps: PolicyDeps,
  caller: Caller,
  key: KeyRecord,
  action: string,
  details: RequestDetails = {},
): Promise<{ request: AuthzRequest; decision: Decision }> {
  const keyPolicy = parsedKeyPolicy(key.policy)
  const traits = traitsOf(keyPolicy)
  let resource = keyResource(key)
  if (traits.usesAliases) {
    const page = await deps.store.listAliases(key.accountId, key.region, { keyId: key.keyId, limit: 50 })
    resource = { ...resource, aliases: page.aliases.map((a) => a.aliasName) }
  }
  const principal = requestPrincipal(caller)
  // The account root has no identity policies: skip the await on the hot path.
  const identityPolicies = caller.user || caller.role ? await identityPoliciesOf(deps, caller) : undefined
  const policies = identityPolicies ? { keyPolicy, identityPolicies } : { keyPolicy }
  // The details come after the first properties: V8 (Node 20) builds an object literal that
  // starts with a spread and goes on with properties on a slow path (~1 µs here).
  const fullRequest = (): AuthzRequest =>
    buildRequest({
      principal,
      action,
      resource,
      time: new Date(deps.clock.now()),
      ...details,
      ...(caller.sourceIp === undefined ? {} : { sourceIp: caller.sourceIp }),
      secureTransport: false,
    })
  // A caller with identity policies (an IAM user or role) often reaches a key through a grant: its
  // grants are read up front and everything is evaluated once.
  const grants = identityPolicies ? await keyGrants(deps, key) : undefined
  const sessionPolicy = caller.role?.sessionPolicy
  // Condition keys matter only to a policy with conditions or variables, and to grants (their
  // constraints read the encryption context); a policy without any (like the default one) skips them.
  const request: AuthzRequest =
    traits.usesContext ||
    identityPolicies?.some((ip) => traitsOf(ip).usesContext) ||
    (grants !== undefined && grants.length > 0) ||
    (sessionPolicy !== undefined && traitsOf(parsedIdentityPolicy(sessionPolicy)).usesContext)
      ? fullRequest()
      : { principal, action, resource, context: NO_CONTEXT }
  if (identityPolicies && grants !== undefined) {
    const decision = evaluate(request, grants.length > 0 ? { keyPolicy, identityPolicies, grants } : policies)
    return { request, decision: limitBySessionPolicy(deps, caller, request, decision, keyPolicy) }
  }
  const decision = evaluate(request, policies)
  // Grants only allow, so they matter only when the policies alone do not allow (and do not deny
  // explicitly): a key whose policy allows the account root costs no grant read at all.
  if (decision.decision === 'ImplicitDeny') {
    const rootGrants = await keyGrants(deps, key)
    if (rootGrants.length > 0) {
      // The grant rules read the encryption context and kms:Grant* facts from the full request.
      const full = request.context === NO_CONTEXT ? fullRequest() : request
      return { request: full, decision: limitBySessionPolicy(deps, caller, full, evaluate(full, { keyPolicy, grants: rootGrants }), keyPolicy) }
    }
  }
  return { request, decision: limitBySessionPolicy(deps, caller, request, decision, keyPolicy) }
}

/** The key's grants as the evaluator takes them; the store (CachedStore) caches the read. */
async function keyGrants(deps: PolicyDeps, key: KeyRecord): Promise<readonly Grant[]> {
  const page = await deps.store.listGrants(key.keyId, { limit: MAX_GRANTS_PER_KEY })
  // A cached page is the same frozen array on every hit: convert it once.
  let grants = converted.get(page.grants)
  if (!grants) {
    grants = page.grants.map((g) => evaluatorGrant(g, key))
    // Frozen, the evaluator indexes it by operation once (grantsWithOperation).
    if (Object.isFrozen(page.grants)) converted.set(page.grants, (grants = Object.freeze(grants)))
  }
  return grants
}

const converted = new WeakMap<readonly GrantRecord[], readonly Grant[]>()

const NO_CONTEXT: RequestContext = new Map()

interface PolicyTraits {
  usesContext: boolean
  usesAliases: boolean
}
const traits = new WeakMap<ParsedPolicy, PolicyTraits>()

function traitsOf(policy: ParsedPolicy): PolicyTraits {
  let t = traits.get(policy)
  if (!t) {
    t = {
      usesContext: policy.statements.some((s) => s.referencedKeys.size > 0),
      // kms:ResourceAliases costs a store read; fetch the aliases only for a policy that asks.
      usesAliases: policy.statements.some((s) => s.referencedKeys.has('kms:resourcealiases')),
    }
    traits.set(policy, t)
  }
  return t
}
