/**
 * Grants as the evaluator sees them: a grant only allows, for its own key, its grantee, its
 * operations, and (for cryptographic operations on symmetric keys) its encryption-context
 * constraints (KMS Developer Guide, "Grants in AWS KMS"; KMS API Reference, GrantConstraints).
 */

import type { EncryptionContext } from '../core/types.js'
import type { AuthzRequest, GrantConstraints, NewGrant } from './context.js'

/** A grant, as stored. */
export interface Grant {
  readonly grantId: string
  readonly name?: string
  /** The key the grant is for; when given, a request for another key never uses the grant. */
  readonly keyArn?: string
  /** The grantee's ARN: a user, role, assumed-role session, or an account (`arn:aws:iam::<acct>:root`). */
  readonly granteePrincipal: string
  /** Grant operations without the `kms:` prefix, e.g. `Decrypt`, `ReEncryptFrom`. */
  readonly operations: readonly string[]
  readonly constraints?: GrantConstraints
}

/** The operations a grant can allow (KMS API Reference, CreateGrant Operations). */
export const GRANT_OPERATIONS: readonly string[] = [
  'Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo',
  'Sign', 'Verify', 'GetPublicKey', 'CreateGrant', 'RetireGrant', 'DescribeKey', 'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext', 'GenerateMac', 'VerifyMac', 'DeriveSharedSecret',
]
const GRANTABLE = new Set(GRANT_OPERATIONS.map((o) => `kms:${o.toLowerCase()}`))

/** Operations that take an encryption context with a symmetric key; only these check constraints. */
const CONTEXT_OPERATIONS = new Set([
  'kms:encrypt', 'kms:decrypt', 'kms:reencryptfrom', 'kms:reencryptto', 'kms:generatedatakey',
  'kms:generatedatakeywithoutplaintext', 'kms:generatedatakeypair', 'kms:generatedatakeypairwithoutplaintext',
])

/** How a grant's grantee relates to the caller. */
export type GranteeMatch = 'direct' | 'account' | 'none'

/**
 * Whether the grant's grantee is the caller: the same ARN, the role of a role session, or the
 * caller's account. A grant to an account reaches the account's root user directly and its other
 * principals only through their IAM policies, as a key policy naming the account does.
 */
export function matchGrantee(grantee: string, request: AuthzRequest): GranteeMatch {
  const p = request.principal
  if (grantee === p.arn) return 'direct'
  if (p.type === 'assumed-role' && p.roleArn !== undefined && grantee === p.roleArn) return 'direct'
  const account = granteeAccount(grantee)
  if (account !== undefined && account === p.account) return p.type === 'root' ? 'direct' : 'account'
  return 'none'
}

/** The account a grantee names (a bare id or its root ARN); undefined for any other principal. */
function granteeAccount(grantee: string): string | undefined {
  let account = accountOfGrantee.get(grantee)
  if (account === undefined) {
    account = /^\d{12}$/.test(grantee) ? grantee : (/^arn:[a-z-]+:iam::(\d{12}):root$/.exec(grantee)?.[1] ?? '')
    if (accountOfGrantee.size >= MAX_MEMO) accountOfGrantee.clear()
    accountOfGrantee.set(grantee, account)
  }
  return account === '' ? undefined : account
}

// Grants are re-read on every request; what is derived from their text is worked out once.
const MAX_MEMO = 10_000
const accountOfGrantee = new Map<string, string>()
const operationsOfGrant = new WeakMap<readonly string[], ReadonlySet<string>>()

/** The grant's operations, lower-cased. */
function grantOperations(grant: Grant): ReadonlySet<string> {
  let ops = operationsOfGrant.get(grant.operations)
  if (ops === undefined) {
    ops = new Set(grant.operations.map((o) => o.toLowerCase()))
    if (Object.isFrozen(grant.operations)) operationsOfGrant.set(grant.operations, ops)
  }
  return ops
}

/**
 * The grants whose operations include `action` (lower-case `kms:…`), in their order: a grant
 * without the operation never covers the request. A frozen list (a cached grant page) is indexed
 * by operation once.
 */
export function grantsWithOperation(grants: readonly Grant[], action: string): readonly Grant[] {
  if (!Object.isFrozen(grants)) return grants
  let index = grantIndex.get(grants)
  if (index === undefined) {
    index = new Map()
    for (const g of grants) {
      for (const op of grantOperations(g)) {
        const list = index.get(op)
        if (list === undefined) index.set(op, [g])
        else if (list[list.length - 1] !== g) list.push(g)
      }
    }
    grantIndex.set(grants, index)
  }
  return index.get(action.slice(4)) ?? []
}

const grantIndex = new WeakMap<readonly Grant[], Map<string, Grant[]>>()

/** True when the grant covers the request's action, key and constraints (grantee aside). */
export function grantCovers(grant: Grant, request: AuthzRequest, action: string): boolean {
  if (grant.keyArn !== undefined && grant.keyArn !== request.resource.arn) return false
  if (!GRANTABLE.has(action)) return false
  if (!grantOperations(grant).has(action.slice(4))) return false
  const keySpec = request.resource.keySpec
  if (CONTEXT_OPERATIONS.has(action) && (keySpec === undefined || keySpec === 'SYMMETRIC_DEFAULT')) {
    if (!contextSatisfies(grant.constraints, request.encryptionContext ?? {})) return false
  }
  if (action === 'kms:creategrant' && request.newGrant !== undefined && !mayDelegate(grant, request.newGrant)) return false
  return true
}

/** Lower-cases context keys; undefined when two keys differ only in case (then no constraint can hold). */
function foldKeys(ec: EncryptionContext): Map<string, string> | undefined {
  const m = new Map<string, string>()
  for (const [k, v] of Object.entries(ec)) {
    const lk = k.toLowerCase()
    if (m.has(lk)) return undefined
    m.set(lk, v)
  }
  return m
}

/** A grant's constraint context folded; a frozen one (from a cached grant page) is folded once. */
function foldedConstraint(ec: EncryptionContext): ReadonlyMap<string, string> | undefined {
  if (!Object.isFrozen(ec)) return foldKeys(ec)
  let folded = foldedConstraints.get(ec)
  if (folded === undefined) foldedConstraints.set(ec, (folded = foldKeys(ec) ?? null))
  return folded ?? undefined
}

const foldedConstraints = new WeakMap<EncryptionContext, ReadonlyMap<string, string> | null>()

/** Grant constraints: keys compare case-insensitively, values case-sensitively (GrantConstraints). */
export function contextSatisfies(constraints: GrantConstraints | undefined, ec: EncryptionContext): boolean {
  if (constraints === undefined) return true
  const { encryptionContextEquals: equals, encryptionContextSubset: subset } = constraints
  if (equals === undefined && subset === undefined) return true
  const got = foldKeys(ec)
  if (got === undefined) return false
  if (equals !== undefined) {
    const want = foldedConstraint(equals)
    if (want === undefined || want.size !== got.size) return false
    for (const [k, v] of want) if (got.get(k) !== v) return false
  }
  if (subset !== undefined) {
    const want = foldedConstraint(subset)
    if (want === undefined) return false
    for (const [k, v] of want) if (got.get(k) !== v) return false
  }
  return true
}

/**
 * A principal that holds CreateGrant through a grant can only delegate what that grant holds, and
 * only under constraints at least as strict (KMS Developer Guide, "Grant constraints").
 */
export function mayDelegate(grant: Grant, next: NewGrant): boolean {
  const held = new Set(grant.operations.map((o) => o.toLowerCase()))
  if (!next.operations.every((o) => held.has(o.toLowerCase()))) return false
  const c = grant.constraints
  if (c?.encryptionContextEquals !== undefined) {
    const eq = next.constraints?.encryptionContextEquals
    if (eq === undefined || !contextSatisfies({ encryptionContextEquals: c.encryptionContextEquals }, eq)) return false
  }
  if (c?.encryptionContextSubset !== undefined) {
    // Every context the new grant admits must contain the held subset's pairs.
    const admits = next.constraints?.encryptionContextEquals ?? next.constraints?.encryptionContextSubset
    if (admits === undefined || !contextSatisfies({ encryptionContextSubset: c.encryptionContextSubset }, admits)) return false
  }
  return true
}
