import { randomBytes } from 'node:crypto'
import { keyArn } from '../core/arn.js'
import { KmsError } from '../core/errors.js'
import { t } from '../core/shape.js'
import type { Grant, GrantConstraints } from '../policy/index.js'
import type { GrantConstraintsRecord, GrantRecord, KeyRecord } from '../store/store.js'
import type { ServiceDeps } from './deps.js'

/** Grants per key (AWS: "Grants per KMS key: 50,000"). */
export const MAX_GRANTS_PER_KEY = 50_000

/** The GrantOperation enum of the AWS service model. */
export const GrantOperationType = t.enum([
  'Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo',
  'Sign', 'Verify', 'GetPublicKey', 'CreateGrant', 'RetireGrant', 'DescribeKey', 'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext', 'GenerateMac', 'VerifyMac', 'DeriveSharedSecret',
])
/** PrincipalIdType of the model. */
export const PrincipalIdType = t.string({ min: 1, max: 256, pattern: /^[\w+=,.@:/-]+$/ })
export const GrantIdType = t.string({ min: 1, max: 128 })
export const GrantTokenType = t.string({ min: 1, max: 8192 })
export const GrantNameType = t.string({ min: 1, max: 256, pattern: /^[a-zA-Z0-9:/_-]+$/ })
export const GrantConstraintsType = t.structure({
  EncryptionContextSubset: t.optional(t.map()),
  EncryptionContextEquals: t.optional(t.map()),
})

/** Operations common to every key type. */
const COMMON = ['DescribeKey', 'CreateGrant', 'RetireGrant']
/** Operations that take an encryption context: the only ones a context constraint can apply to. */
const CONTEXT_OPERATIONS = new Set([
  'Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo',
  'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext',
])

/** The grant operations a key of this spec and usage supports (KMS Developer Guide, "Grant operations"). */
export function supportedGrantOperations(key: KeyRecord): ReadonlySet<string> {
  if (key.keySpec === 'SYMMETRIC_DEFAULT') return new Set([...COMMON, ...CONTEXT_OPERATIONS])
  switch (key.keyUsage) {
    case 'ENCRYPT_DECRYPT': return new Set([...COMMON, 'Decrypt', 'Encrypt', 'ReEncryptFrom', 'ReEncryptTo', 'GetPublicKey'])
    case 'SIGN_VERIFY': return new Set([...COMMON, 'Sign', 'Verify', 'GetPublicKey'])
    case 'GENERATE_VERIFY_MAC': return new Set([...COMMON, 'GenerateMac', 'VerifyMac'])
    case 'KEY_AGREEMENT': return new Set([...COMMON, 'DeriveSharedSecret', 'GetPublicKey'])
  }
}

/**
 * Checks what a CreateGrant asks for against the key: every operation supported by the key type;
 * encryption-context constraints only on symmetric encryption keys, and with no operation that
 * takes no encryption context (DescribeKey, CreateGrant, RetireGrant excepted, to which the
 * constraint simply does not apply).
 */
export function checkGrantRequest(key: KeyRecord, operations: readonly string[], constraints: GrantConstraintsRecord | undefined): void {
  const supported = supportedGrantOperations(key)
  const unsupported = operations.filter((o) => !supported.has(o))
  if (unsupported.length > 0) {
    throw new KmsError('ValidationException', `Grant operations ${unsupported.join(', ')} are not supported for this key (${key.keySpec}, ${key.keyUsage}).`)
  }
  if (hasConstraints(constraints)) {
    const noContext = operations.filter((o) => !CONTEXT_OPERATIONS.has(o) && !COMMON.includes(o))
    if (key.keySpec !== 'SYMMETRIC_DEFAULT' || noContext.length > 0) {
      throw new KmsError('ValidationException', 'Encryption context grant constraints are supported only for operations on symmetric encryption KMS keys that take an encryption context.')
    }
  }
}

function hasConstraints(c: GrantConstraintsRecord | undefined): c is GrantConstraintsRecord {
  return c !== undefined && (c.EncryptionContextEquals !== undefined || c.EncryptionContextSubset !== undefined)
}

/** Operations sorted and without repeats, so equal requests store equal grants (Name idempotency). */
export function canonicalOperations(operations: readonly string[]): string[] {
  return [...new Set(operations)].sort()
}

/** Constraints with sorted context keys (undefined when there are none), for the same reason. */
export function canonicalConstraints(c: GrantConstraintsRecord | undefined): GrantConstraintsRecord | undefined {
  if (!hasConstraints(c)) return undefined
  const sorted = (ec: Record<string, string>) => Object.fromEntries(Object.entries(ec).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  return {
    ...(c.EncryptionContextEquals === undefined ? {} : { EncryptionContextEquals: sorted(c.EncryptionContextEquals) }),
    ...(c.EncryptionContextSubset === undefined ? {} : { EncryptionContextSubset: sorted(c.EncryptionContextSubset) }),
  }
}

/** The constraints as the policy evaluator takes them. */
export function evaluatorConstraints(c: GrantConstraintsRecord | undefined): GrantConstraints | undefined {
  if (!hasConstraints(c)) return undefined
  return {
    ...(c.EncryptionContextEquals === undefined ? {} : { encryptionContextEquals: c.EncryptionContextEquals }),
    ...(c.EncryptionContextSubset === undefined ? {} : { encryptionContextSubset: c.EncryptionContextSubset }),
  }
}

/** A stored grant as the policy evaluator takes it. */
export function evaluatorGrant(g: GrantRecord, key: KeyRecord): Grant {
  const constraints = evaluatorConstraints(g.constraints)
  return {
    grantId: g.grantId,
    ...(g.name === undefined ? {} : { name: g.name }),
    keyArn: key.arn,
    granteePrincipal: g.granteePrincipal,
    operations: g.operations,
    ...(constraints === undefined ? {} : { constraints }),
  }
}

/** A new grant id: 64 hex characters, as AWS's. */
export function newGrantId(): string {
  return randomBytes(32).toString('hex')
}

const TOKEN_BYTES = 48
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{64}$/

/**
 * A new grant token: random and non-secret (it reveals nothing about the grant), base64url. Every
 * CreateGrant issues a new one, even when Name makes it return an existing grant.
 */
export function newGrantToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url')
}

/** True for a string shaped like a token this service issues. */
export function isGrantTokenShaped(token: string): boolean {
  return TOKEN_PATTERN.test(token)
}

/**
 * Checks the GrantTokens of a request. Trent applies grants at once (no eventual consistency), so
 * a token adds no permission; a token that Trent cannot have issued is refused with
 * InvalidGrantTokenException. A well-formed token of a grant since retired is accepted and ignored.
 */
export function checkGrantTokens(tokens: readonly string[] | undefined): void {
  if (tokens === undefined) return
  for (const token of tokens) {
    if (!isGrantTokenShaped(token)) throw new KmsError('InvalidGrantTokenException', 'The grant token is not valid.')
  }
}

/** A grant as ListGrants and ListRetirableGrants answer it (GrantListEntry). */
export function grantListEntry(deps: ServiceDeps, g: GrantRecord, accountId: string): Record<string, unknown> {
  return {
    KeyId: keyArn(deps.partition, deps.region, accountId, g.keyId),
    GrantId: g.grantId,
    ...(g.name === undefined ? {} : { Name: g.name }),
    CreationDate: g.creationDate / 1000,
    GranteePrincipal: g.granteePrincipal,
    ...(g.retiringPrincipal === undefined ? {} : { RetiringPrincipal: g.retiringPrincipal }),
    IssuingAccount: g.issuingAccount,
    Operations: g.operations,
    ...(g.constraints === undefined ? {} : { Constraints: g.constraints }),
  }
}

/**
 * Whether a grant's principal (grantee or retiring principal) names the caller: its ARN, or, for
 * an account root, the account (`arn:aws:iam::<acct>:root` or the bare id).
 */
export function principalNamesCaller(principal: string | undefined, caller: { accountId: string; principalArn: string }): boolean {
  if (principal === undefined) return false
  if (principal === caller.principalArn) return true
  const isRoot = caller.principalArn.endsWith(':root')
  const account = /^\d{12}$/.test(principal) ? principal : /^arn:[a-z-]+:iam::(\d{12}):root$/.exec(principal)?.[1]
  return isRoot && account === caller.accountId
}

/** Grant ids Trent issues: 64 lowercase hex characters. */
export function isGrantId(grantId: string): boolean {
  return /^[0-9a-f]{64}$/.test(grantId)
}

export function invalidGrantId(): KmsError {
  return new KmsError('InvalidGrantIdException', 'Invalid grant ID')
}
