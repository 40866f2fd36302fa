import { KmsError } from '../core/errors.js'
import type { EncryptionContext } from '../core/types.js'
import { parseBlobHeader } from '../hsm/blob.js'
import type { KeyMaterialRef } from '../hsm/hsm.js'
import type { KeyRecord } from '../store/store.js'
import { authorize, requestAlias } from './authorize.js'
import { type Caller, type ServiceDeps, traceKey } from './deps.js'
import { assertKeyState, assertKeyUsage } from './key-state.js'
import { loadMaterial, resolveKey } from './resolve-key.js'

/** Refuses an encryption algorithm the key cannot use. */
export function assertSymmetricAlgorithm(key: KeyRecord, algorithm: string | undefined): void {
  if (algorithm !== undefined && algorithm !== 'SYMMETRIC_DEFAULT') {
    throw new KmsError('InvalidKeyUsageException', `Algorithm ${algorithm} is incompatible with key spec ${key.keySpec}.`)
  }
}

/** How a symmetric operation is authorised: its IAM action (default `kms:<operation>`), context and algorithm. */
export interface CryptoRequest {
  action?: string
  context?: EncryptionContext | undefined
  algorithm?: string | undefined
}

/** Resolves a key for a symmetric encryption operation, authorises the caller and checks the key's state and usage. */
export async function encryptionKey(deps: ServiceDeps, caller: Caller, keyIdInput: string, operation: string, request: CryptoRequest = {}): Promise<KeyRecord> {
  const key = await resolveKey(deps, caller, keyIdInput, { allowAlias: true, crossAccount: true })
  const algorithm = request.algorithm
  await authorize(deps, caller, key, request.action ?? `kms:${operation}`, {
    encryptionContext: request.context ?? {},
    ...requestAlias(keyIdInput),
    ...(algorithm === undefined ? {} : { encryptionAlgorithm: algorithm }),
  })
  assertKeyState(key, 'cryptographic')
  assertKeyUsage(key, 'ENCRYPT_DECRYPT', operation)
  assertSymmetricAlgorithm(key, algorithm)
  return key
}

/**
 * Finds the key and key material that made a ciphertext blob. The blob names them in its
 * authenticated header; a KeyId in the request must name the same key (IncorrectKeyException).
 * Every way the blob can be unusable answers the same InvalidCiphertextException.
 */
export async function decryptionKey(
  deps: ServiceDeps,
  caller: Caller,
  blob: Uint8Array,
  keyIdInput: string | undefined,
  operation: string,
  request: CryptoRequest = {},
): Promise<{ key: KeyRecord; material: KeyMaterialRef }> {
  const algorithm = request.algorithm
  const header = parseBlobHeader(blob)
  const requested = keyIdInput === undefined ? undefined : await resolveKey(deps, caller, keyIdInput, { allowAlias: true, crossAccount: true })
  if (!header) throw new KmsError('InvalidCiphertextException')
  if (requested && requested.keyId !== header.keyId) {
    throw new KmsError('IncorrectKeyException', 'The key ID in the request does not identify a CMK that can perform this operation.')
  }
  // The blob may come from a key of another account (Decrypt is cross-account): the key policy decides.
  const key = requested ?? (await deps.store.getKey(header.keyId))
  if (!key || key.region !== deps.region) throw new KmsError('InvalidCiphertextException')
  if (!requested) traceKey(caller, key)
  await authorize(deps, caller, key, request.action ?? `kms:${operation}`, {
    encryptionContext: request.context ?? {},
    ...(keyIdInput === undefined ? {} : requestAlias(keyIdInput)),
    ...(algorithm === undefined ? {} : { encryptionAlgorithm: algorithm }),
  })
  assertKeyState(key, 'cryptographic')
  assertKeyUsage(key, 'ENCRYPT_DECRYPT', operation)
  assertSymmetricAlgorithm(key, algorithm)
  const material = await loadMaterial(deps, key, Buffer.from(header.hbkId).toString('hex'))
  if (!material) throw new KmsError('InvalidCiphertextException')
  return { key, material }
}

/** The 64-hex KeyMaterialId of a material reference. */
export function keyMaterialId(material: KeyMaterialRef): string {
  return Buffer.from(material.hbkId).toString('hex')
}
