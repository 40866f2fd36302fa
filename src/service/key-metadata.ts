import { algorithmLists } from '../core/key-specs.js'
import type { KeyRecord } from '../store/store.js'

/** The KeyMetadata structure of DescribeKey and CreateKey, with exactly the fields AWS returns. */
export function keyMetadata(key: KeyRecord): Record<string, unknown> {
  const m: Record<string, unknown> = {
    AWSAccountId: key.accountId,
    KeyId: key.keyId,
    Arn: key.arn,
    CreationDate: key.creationDate / 1000,
    Enabled: key.keyState === 'Enabled',
    Description: key.description,
    KeyUsage: key.keyUsage,
    KeyState: key.keyState,
    Origin: key.origin,
    KeyManager: key.keyManager,
    CustomerMasterKeySpec: key.keySpec,
    KeySpec: key.keySpec,
    MultiRegion: key.multiRegion,
  }
  if (key.deletionDate !== undefined) m['DeletionDate'] = key.deletionDate / 1000
  if (key.pendingWindowInDays !== undefined) m['PendingDeletionWindowInDays'] = key.pendingWindowInDays
  Object.assign(m, algorithmLists(key.keySpec, key.keyUsage))
  // AWS shows CurrentKeyMaterialId only for symmetric encryption keys, the ones that rotate.
  if (key.currentKeyMaterialId !== undefined && key.keySpec === 'SYMMETRIC_DEFAULT') m['CurrentKeyMaterialId'] = key.currentKeyMaterialId
  if (key.expirationModel !== undefined) m['ExpirationModel'] = key.expirationModel
  if (key.validTo !== undefined) m['ValidTo'] = key.validTo / 1000
  return m
}
