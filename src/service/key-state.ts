import { KmsError } from '../core/errors.js'
import type { KeyState } from '../core/types.js'
import type { KeyRecord } from '../store/store.js'

/** Groups of operations that share a row of AWS's key-state table. */
export type OperationClass = 'cryptographic'

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

/**
 * The one place that decides whether a key's state allows an operation, with AWS's exception and
 * message ("<key ARN> is disabled.", "<key ARN> is pending deletion.") otherwise.
 */
export function assertKeyState(key: KeyRecord, operation: OperationClass): void {
  switch (operation) {
    case 'cryptographic':
      if (key.keyState === 'Enabled' || key.keyState === 'Updating') return
      if (key.keyState === 'Disabled') throw new KmsError('DisabledException', `${key.arn} is disabled.`)
      throw new KmsError('KMSInvalidStateException', `${key.arn} is ${STATE_NAMES[key.keyState]}.`)
  }
}

/** Refuses a key whose usage is not `usage`, as AWS words it. */
export function assertKeyUsage(key: KeyRecord, usage: KeyRecord['keyUsage'], operation: string): void {
  if (key.keyUsage !== usage) {
    throw new KmsError('InvalidKeyUsageException', `${key.arn} key usage is ${key.keyUsage} which is not valid for ${operation}.`)
  }
}
