/**
 * The key policy lockout safety check of CreateKey and PutKeyPolicy: unless the request sets
 * BypassPolicyLockoutSafetyCheck, "the key policy must allow the calling principal to make a
 * subsequent PutKeyPolicy request on the KMS key" (KMS API Reference, CreateKey/PutKeyPolicy),
 * else MalformedPolicyDocumentException.
 *
 * A later PutKeyPolicy request is not known yet, so only what is known now can decide it: the
 * principal and the key. Statements whose conditions (or policy variables) depend on anything
 * else — source IP, time, TLS, MFA, request tags, encryption context, `kms:ViaService`, ... — are
 * left out, Allow and Deny alike: such an Allow does not prove a later call will succeed, and such
 * a Deny does not prove it will fail. This matches reports that a PutKeyPolicy grant gated on MFA
 * does not pass the check, while an unconditional one does. The caller's identity policies take
 * part as in any request, so an IAM Deny on kms:PutKeyPolicy fails the check.
 */

import { KmsError } from '../core/errors.js'
import { buildRequest, isStableKey, type KeyResource, type RequestPrincipal } from './context.js'
import { evaluate, type Decision } from './evaluate.js'
import type { ParsedPolicy } from './policy-document.js'

/** AWS's message when the check fails. */
export const LOCKOUT_MESSAGE = 'The new key policy will not allow you to update the key policy in the future.'

/** Input to the lockout safety check. */
export interface LockoutCheck {
  /** The proposed key policy, parsed with `kind: 'key'`. */
  readonly keyPolicy: ParsedPolicy
  /** The principal making the CreateKey or PutKeyPolicy request. */
  readonly principal: RequestPrincipal
  /** The key (for CreateKey: its ARN-to-be, spec, usage, origin and requested tags). */
  readonly resource: KeyResource
  /** The caller's identity policies. */
  readonly identityPolicies?: readonly ParsedPolicy[]
  /** The request's time (only for context completeness; time conditions are left out). */
  readonly time?: Date
}

/** Evaluates a future `kms:PutKeyPolicy` by the caller under the proposed policy, as the check does. */
export function lockoutDecision(input: LockoutCheck): Decision {
  /* Precondition: The policy to check is a key policy. */
  if (input.keyPolicy.kind !== 'key') throw new TypeError('lockoutDecision: keyPolicy must be parsed as kind "key"')
  const request = buildRequest({
    principal: input.principal,
    action: 'kms:PutKeyPolicy',
    resource: input.resource,
    time: input.time ?? new Date(0),
  })
  // Keep only the condition keys known before the request: principal and key facts.
  const stable = new Map([...request.context].filter(([k]) => isStableKey(k)))
  return evaluate(
    { ...request, context: stable },
    { keyPolicy: withoutRequestConditions(input.keyPolicy), identityPolicies: (input.identityPolicies ?? []).map(withoutRequestConditions) },
  )
}

/**
 * Throws `MalformedPolicyDocumentException` ("The new key policy will not allow you to update the
 * key policy in the future.") when the proposed key policy would lock the caller out, unless
 * `bypass` (the request's BypassPolicyLockoutSafetyCheck) is true.
 */
export function checkLockoutSafety(input: LockoutCheck & { readonly bypass?: boolean }): void {
  if (input.bypass === true) return
  if (lockoutDecision(input).decision !== 'Allow') throw new KmsError('MalformedPolicyDocumentException', LOCKOUT_MESSAGE)
}

/** The policy without statements that depend on request-only condition keys. Statement indexes are kept. */
function withoutRequestConditions(policy: ParsedPolicy): ParsedPolicy {
  const statements = policy.statements.filter((s) => [...s.referencedKeys].every(isStableKey))
  return statements.length === policy.statements.length ? policy : { ...policy, statements }
}
