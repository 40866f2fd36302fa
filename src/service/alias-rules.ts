import { aliasArn, parseArn } from '../core/arn.js'
import { KmsError } from '../core/errors.js'
import { t } from '../core/shape.js'
import type { KeySpec } from '../core/types.js'
import type { AliasRecord, KeyRecord } from '../store/store.js'
import type { Caller, ServiceDeps } from './deps.js'
import { resolveKey } from './resolve-key.js'

/**
 * The rules the alias operations (CreateAlias, UpdateAlias, DeleteAlias, ListAliases) share: alias
 * names, what an alias may point at, and the ListAliases entry. Key-state rules stay in key-state.ts.
 */

/** AliasNameType of the service model. */
export const AliasNameType = t.string({ min: 1, max: 256, pattern: /^[a-zA-Z0-9:/_-]+$/ })

/** Every alias name starts with this. */
export const ALIAS_PREFIX = 'alias/'
/** Reserved for AWS managed keys: no caller creates, updates or deletes such an alias. */
export const RESERVED_ALIAS_PREFIX = 'alias/aws/'
/** AWS's quota of aliases per KMS key (Developer Guide, "Quotas"). */
export const MAX_ALIASES_PER_KEY = 50
/** ListAliases `Limit`: the model allows 1..1000, the API documents 1..100 and a default of 50. */
export const LIST_ALIASES_DEFAULT_LIMIT = 50
export const LIST_ALIASES_MAX_LIMIT = 100

/**
 * Applies AWS's alias-name rules beyond the model's shape (length and `^[a-zA-Z0-9:/_-]+$`): the
 * `alias/` prefix, no `:` (the model's pattern allows it, the service does not), a name after the
 * prefix, and the reserved `alias/aws/` prefix.
 */
export function checkAliasName(name: string): void {
  if (!name.startsWith(ALIAS_PREFIX)) {
    throw new KmsError('ValidationException', 'Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html')
  }
  if (name.includes(':')) throw new KmsError('ValidationException', `${name} contains invalid characters for an alias`)
  if (name.startsWith(RESERVED_ALIAS_PREFIX)) {
    throw new KmsError('InvalidAliasNameException', `Alias ${name} is not valid: the prefix "${RESERVED_ALIAS_PREFIX}" is reserved for AWS managed keys.`)
  }
  if (name.length === ALIAS_PREFIX.length) throw new KmsError('InvalidAliasNameException', `Alias ${name} is not valid: it has no name after the prefix "${ALIAS_PREFIX}".`)
}

/** True when a KeyId names an alias (alias name or alias ARN) rather than a key. */
export function isAliasIdentifier(keyIdInput: string): boolean {
  if (keyIdInput.startsWith(ALIAS_PREFIX)) return true
  return keyIdInput.startsWith('arn:') && (parseArn(keyIdInput)?.resource.startsWith(ALIAS_PREFIX) ?? false)
}

/**
 * A key of the caller's own account and the service's region, named by key id or key ARN. The
 * alias operations are not cross-account: a key ARN of another account is refused like a key that
 * does not exist, so the answer does not tell whether it does.
 */
export async function resolveOwnKey(deps: ServiceDeps, caller: Caller, keyIdInput: string): Promise<KeyRecord> {
  const key = await resolveKey(deps, caller, keyIdInput, { allowAlias: false, crossAccount: true })
  if (key.accountId !== caller.accountId) throw new KmsError('NotFoundException', `Key '${key.arn}' does not exist`)
  return key
}

/** The key an alias is to point at (CreateAlias, UpdateAlias): a key id or key ARN, never an alias. */
export async function resolveAliasTarget(deps: ServiceDeps, caller: Caller, targetKeyId: string): Promise<KeyRecord> {
  if (isAliasIdentifier(targetKeyId)) throw new KmsError('ValidationException', 'Aliases must refer to keys. Not aliases')
  return resolveOwnKey(deps, caller, targetKeyId)
}

/** The three key types UpdateAlias keeps apart. */
export type KeyTypeFamily = 'symmetric encryption' | 'asymmetric' | 'HMAC'

/** Whether a key spec is a symmetric encryption, an asymmetric or an HMAC key. */
export function keyTypeFamily(spec: KeySpec): KeyTypeFamily {
  if (spec === 'SYMMETRIC_DEFAULT') return 'symmetric encryption'
  if (spec.startsWith('HMAC_')) return 'HMAC'
  return 'asymmetric'
}

/**
 * UpdateAlias may only move an alias to a key of the same type (symmetric encryption, asymmetric or
 * HMAC) and the same key usage as its current key, so code using the alias keeps working.
 */
export function checkRetarget(alias: string, current: KeyRecord, next: KeyRecord): void {
  const from = keyTypeFamily(current.keySpec)
  const to = keyTypeFamily(next.keySpec)
  if (from === to && current.keyUsage === next.keyUsage) return
  throw new KmsError(
    'ValidationException',
    `${alias} cannot be updated to ${next.arn}: it is associated with ${current.arn}, a ${from} key with key usage ${current.keyUsage}, ` +
      `and the new KMS key must be the same type and have the same key usage, but it is a ${to} key with key usage ${next.keyUsage}.`,
  )
}

/** NotFoundException for an alias, naming it by ARN as AWS does. */
export function aliasNotFound(arn: string): KmsError {
  return new KmsError('NotFoundException', `Alias ${arn} is not found.`)
}

/** An AliasListEntry of ListAliases; dates in epoch seconds as the JSON protocol carries them. */
export function aliasEntry(partition: string, alias: AliasRecord): Record<string, unknown> {
  return {
    AliasName: alias.aliasName,
    AliasArn: aliasArn(partition, alias.region, alias.accountId, alias.aliasName),
    TargetKeyId: alias.targetKeyId,
    CreationDate: alias.creationDate / 1000,
    LastUpdatedDate: alias.lastUpdatedDate / 1000,
  }
}
