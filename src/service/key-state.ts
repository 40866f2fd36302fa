import { KmsError } from '../core/errors.js'
import { KEY_STATES, type KeyState } from '../core/types.js'
import type { KeyRecord } from '../store/store.js'

/**
 * How one group of operations treats each key state, after AWS's key-state table (Developer Guide,
 * "Key states of AWS KMS keys"). States not allowed raise the exception listed; its message is
 * "<key ARN> is <state>." as AWS words it.
 */
interface StateRule {
  allowed: readonly KeyState[]
  /** Disabled keys answer DisabledException in this group; other refusals are KMSInvalidStateException. */
  disabledException: boolean
}

const ALL = KEY_STATES
const rules = {
  /** Encrypt, Decrypt, ReEncrypt, GenerateDataKey*, Sign, Verify, GetPublicKey, GenerateMac, VerifyMac, DeriveSharedSecret. */
  cryptographic: { allowed: ['Enabled', 'Updating'], disabledException: true },
  /** CreateGrant also works while a custom key store is disconnected. */
  grant: { allowed: ['Enabled', 'Unavailable', 'Updating'], disabledException: true },
  /** EnableKey, DisableKey. */
  enablement: { allowed: ['Enabled', 'Disabled', 'Unavailable'], disabledException: false },
  /** EnableKeyRotation, DisableKeyRotation, RotateKeyOnDemand. */
  rotation: { allowed: ['Enabled', 'Updating'], disabledException: true },
  /** GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial. */
  importMaterial: { allowed: ['Enabled', 'Disabled', 'PendingImport'], disabledException: false },
  /** ScheduleKeyDeletion. */
  scheduleDeletion: { allowed: ['Enabled', 'Disabled', 'PendingImport', 'Unavailable', 'Creating'], disabledException: false },
  /** CancelKeyDeletion. */
  cancelDeletion: { allowed: ['PendingDeletion', 'PendingReplicaDeletion'], disabledException: false },
  /** CreateAlias, UpdateAlias (destination), TagResource, UntagResource, UpdateKeyDescription. */
  management: { allowed: ALL.filter((s) => s !== 'PendingDeletion' && s !== 'PendingReplicaDeletion'), disabledException: false },
  /** DescribeKey, List*, GetKeyPolicy, PutKeyPolicy, RetireGrant, RevokeGrant, DeleteAlias, UpdateAlias (source). */
  any: { allowed: ALL, disabledException: false },
} satisfies Record<string, StateRule>

/** The groups of operations that share a row of the key-state table. */
export type OperationClass = keyof typeof rules

const STATE_NAMES: Record<KeyState, string> = {
  Creating: 'creating',
  Enabled: 'enabled',
  Disabled: 'disabled',
  PendingDeletion: 'pending deletion',
  PendingImport: 'pending import',
  PendingReplicaDeletion: 'pending replica deletion',
  Unavailable: 'unavailable',
  Updating: 'updating',
}

/** The one place that decides whether a key's state allows an operation of a class. */
export function assertKeyState(key: KeyRecord, operation: OperationClass): void {
  const rule: StateRule = rules[operation]
  if (rule.allowed.includes(key.keyState)) return
  if (operation === 'cancelDeletion') throw new KmsError('KMSInvalidStateException', `${key.arn} is not pending deletion.`)
  if (key.keyState === 'Disabled' && rule.disabledException) throw new KmsError('DisabledException', `${key.arn} is disabled.`)
  throw new KmsError('KMSInvalidStateException', `${key.arn} is ${STATE_NAMES[key.keyState]}.`)
}

/** Refuses a key whose usage is not `usage`, as AWS words it. */
export function assertKeyUsage(key: KeyRecord, usage: KeyRecord['keyUsage'], operation: string): void {
  if (key.keyUsage !== usage) {
    throw new KmsError('InvalidKeyUsageException', `${key.arn} key usage is ${key.keyUsage} which is not valid for ${operation}.`)
  }
}
