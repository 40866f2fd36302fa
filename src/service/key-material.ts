import { KmsError } from '../core/errors.js'
import type { NewKeyMaterial } from '../hsm/hsm.js'
import { StoreConflictError, type KeyMaterialRecord, type KeyRecord, type RotationType } from '../store/store.js'
import type { ServiceDeps } from './deps.js'
import { without } from './mutate-key.js'

/** One day in milliseconds. */
export const DAY_MS = 24 * 60 * 60 * 1000
/** RotateKeyOnDemand's limit per key (Developer Guide, "Perform on-demand key rotation"). */
export const MAX_ON_DEMAND_ROTATIONS = 25
/** A RotateKeyOnDemand older than this is taken as abandoned (its node died mid-rotation). */
export const ON_DEMAND_ROTATION_TIMEOUT_MS = 60_000

/**
 * A system-initiated change of key material, for the audit trail: the scheduler calls this after
 * each automatic rotation or expiry it performed.
 */
export interface SystemEvent {
  eventName: 'RotateKey' | 'DeleteExpiredKeyMaterial'
  keyArn: string
  keyId: string
  accountId: string
  /** The material made current (RotateKey) or deleted (DeleteExpiredKeyMaterial). */
  keyMaterialId: string
  /** Milliseconds since the epoch. */
  eventTime: number
}

/** Where system events go; wired by main.ts. */
export type SystemEventSink = (event: SystemEvent) => void | Promise<void>

/** True for the keys whose material can rotate: symmetric encryption keys of AWS KMS or imported material. */
export function rotatable(key: KeyRecord): boolean {
  return key.keySpec === 'SYMMETRIC_DEFAULT' && key.keyUsage === 'ENCRYPT_DECRYPT' && (key.origin === 'AWS_KMS' || key.origin === 'EXTERNAL')
}

/** Refuses rotation operations on keys that cannot rotate, as AWS does. */
export function assertRotatable(key: KeyRecord): void {
  if (key.origin === 'AWS_CLOUDHSM' || key.origin === 'EXTERNAL_KEY_STORE') {
    // AWS's wording for an origin an operation refuses, as recorded in localstack's snapshot tests
    // (GetParametersForImport on AWS_KMS, RotateKeyOnDemand on EXTERNAL before imported keys could rotate).
    throw new KmsError('UnsupportedOperationException', `${key.arn} origin is ${key.origin} which is not valid for this operation.`)
  }
  if (!rotatable(key)) {
    // AWS answers with an empty message: recorded in localstack's snapshot tests (RotateKeyOnDemand on
    // an RSA key) and quoted from EnableKeyRotation in terraform-aws-modules/terraform-aws-kms#20.
    throw new KmsError('UnsupportedOperationException')
  }
}

/** The material record of a fresh HBK the HSM generated for `key` by a rotation at `now`. */
export function rotatedMaterial(key: KeyRecord, material: NewKeyMaterial, type: RotationType, now: number): KeyMaterialRecord {
  return { keyId: key.keyId, keyMaterialId: Buffer.from(material.hbkId).toString('hex'), ekt: material.ekt, createdAt: now, rotationType: type, rotationDate: now }
}

/**
 * Makes `material` the key's current material (the key as read, at its version), together with
 * `change`; the old current material stays for decryption. An ON_DEMAND rotation also clears the
 * key's on-demand mark, and the pending imported material once it is the one made current. Throws
 * StoreConflictError if the key changed since it was read.
 */
export async function makeCurrent(deps: Pick<ServiceDeps, 'store'>, key: KeyRecord, material: KeyMaterialRecord, change: Partial<KeyRecord> = {}): Promise<KeyRecord> {
  const drop: Array<keyof KeyRecord> = ['expirationModel', 'validTo']
  if (material.rotationType === 'ON_DEMAND') drop.push('onDemandRotationStartDate')
  if (key.pendingKeyMaterialId === material.keyMaterialId) drop.push('pendingKeyMaterialId')
  const next: KeyRecord = {
    ...without(key, ...drop),
    ...(material.expirationModel === undefined ? {} : { expirationModel: material.expirationModel }),
    ...(material.validTo === undefined ? {} : { validTo: material.validTo }),
    ...change,
    currentKeyMaterialId: material.keyMaterialId,
    version: key.version + 1,
  }
  await deps.store.putKeyMaterials(next, [material])
  return next
}

/**
 * Deletes an imported material's EKT (DeleteImportedKeyMaterial, or expiry): the material stays
 * listed as PENDING_IMPORT so that importing the same material again restores it. Deleting the
 * current material leaves the key PendingImport (unless it is pending deletion). Throws
 * StoreConflictError if the key changed since it was read.
 */
export async function deleteImportedMaterial(deps: Pick<ServiceDeps, 'store'>, key: KeyRecord, material: KeyMaterialRecord): Promise<KeyRecord> {
  const current = key.currentKeyMaterialId === material.keyMaterialId
  const next: KeyRecord = {
    ...(current ? without(key, 'expirationModel', 'validTo') : key),
    ...(current && key.keyState !== 'PendingDeletion' ? { keyState: 'PendingImport' as const } : {}),
    version: key.version + 1,
  }
  const { expirationModel: _model, validTo: _validTo, ...kept } = material
  await deps.store.putKeyMaterials(next, [{ ...kept, ekt: new Uint8Array(0), importState: 'PENDING_IMPORT' }])
  return next
}

/** Reads the key again after a StoreConflictError; rethrows anything else. */
export async function reread(deps: ServiceDeps, key: KeyRecord, e: unknown): Promise<KeyRecord | undefined> {
  if (!(e instanceof StoreConflictError)) throw e
  return deps.store.getKey(key.keyId)
}

/** Refuses import operations on keys whose material is not imported, as AWS words it. */
export function assertExternal(key: KeyRecord): void {
  if (key.origin !== 'EXTERNAL') throw new KmsError('UnsupportedOperationException', `${key.arn} origin is ${key.origin} which is not valid for this operation.`)
}
