/**
 * Trent's policy evaluator: pure (no I/O; time and request facts come in as arguments).
 *
 * Typical use by the service layer:
 * ```ts
 * const keyPolicy = parsePolicy(storedJson, { kind: 'key' })            // cache per policy text
 * const request = buildRequest({ principal, action: 'kms:Decrypt', resource, time, encryptionContext })
 * const decision = evaluate(request, { keyPolicy, identityPolicies, grants })
 * if (decision.decision !== 'Allow') throw accessDenied(request, decision)
 * ```
 */

export {
  buildRequest,
  buildRequestContext,
  contextFrom,
  isStableKey,
  type AuthzRequest,
  type ContextValue,
  type GrantConstraints,
  type KeyResource,
  type NewGrant,
  type PrincipalType,
  type RequestContext,
  type RequestFacts,
  type RequestPrincipal,
} from './context.js'
export { CONDITION_OPERATORS, type ParsedCondition } from './conditions.js'
export { accessDenied, accessDeniedMessage, evaluate, type Decider, type Decision, type DenialCause, type PolicySet } from './evaluate.js'
export { GRANT_OPERATIONS, contextSatisfies, mayDelegate, type Grant } from './grants.js'
export { LOCKOUT_MESSAGE, checkLockoutSafety, lockoutDecision, type LockoutCheck } from './lockout.js'
export { parsePolicy, type ParseOptions, type ParsedPolicy, type ParsedStatement, type PolicyKind } from './policy-document.js'
