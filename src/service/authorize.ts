import {
  accessDenied,
  buildRequest,
  evaluate,
  parsePolicy,
  type AuthzRequest,
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
  // Trent issues credentials only to account roots today; IAM users and roles come with identities.
  return { arn: caller.principalArn, account: caller.accountId, type: 'root', userId: caller.accountId }
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
 * the key policy is the gate, explicit denies win. Throws AccessDeniedException with AWS's message
 * otherwise; which statement decided is never told to the caller.
 */
export async function authorize(deps: ServiceDeps, caller: Caller, key: KeyRecord, action: string, details: RequestDetails = {}): Promise<void> {
  const keyPolicy = parsedKeyPolicy(key.policy)
  const traits = traitsOf(keyPolicy)
  let resource = keyResource(key)
  if (traits.usesAliases) {
    const page = await deps.store.listAliases(key.accountId, key.region, { keyId: key.keyId, limit: 50 })
    resource = { ...resource, aliases: page.aliases.map((a) => a.aliasName) }
  }
  const principal = requestPrincipal(caller)
  // Condition keys matter only to a policy with conditions or variables; building them is most of
  // the cost of a decision, so a policy without any (like the default one) skips it.
  const request: AuthzRequest = traits.usesContext
    ? buildRequest({
        ...details,
        principal,
        action,
        resource,
        time: new Date(deps.clock.now()),
        ...(caller.sourceIp === undefined ? {} : { sourceIp: caller.sourceIp }),
        secureTransport: false,
      })
    : { principal, action, resource, context: NO_CONTEXT }
  let decision = evaluate(request, { keyPolicy })
  // Grants only allow, so they matter only when the policies alone do not allow (and do not deny
  // explicitly): a key whose policy allows the caller costs no grant read at all.
  if (decision.decision === 'ImplicitDeny') {
    const grants = await keyGrants(deps, key)
    if (grants.length > 0) {
      // The grant rules read the encryption context and kms:Grant* facts from the full request.
      const full = request.context === NO_CONTEXT
        ? buildRequest({
            ...details,
            principal,
            action,
            resource,
            time: new Date(deps.clock.now()),
            ...(caller.sourceIp === undefined ? {} : { sourceIp: caller.sourceIp }),
            secureTransport: false,
          })
        : request
      decision = evaluate(full, { keyPolicy, grants })
    }
  }
  if (decision.decision !== 'Allow') throw accessDenied(request, decision)
}

/** The key's grants as the evaluator takes them; the store (CachedStore) caches the read. */
async function keyGrants(deps: ServiceDeps, key: KeyRecord): Promise<readonly Grant[]> {
  const page = await deps.store.listGrants(key.keyId, { limit: MAX_GRANTS_PER_KEY })
  // A cached page is the same frozen array on every hit: convert it once.
  let grants = converted.get(page.grants)
  if (!grants) {
    grants = page.grants.map((g) => evaluatorGrant(g, key))
    if (Object.isFrozen(page.grants)) converted.set(page.grants, grants)
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
