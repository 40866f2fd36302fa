import { KmsError } from '../core/errors.js'
import { assertAlgorithm } from '../core/key-specs.js'
import type { EncryptionContext } from '../core/types.js'
import { parseBlobHeader } from '../hsm/blob.js'
import type { KeyMaterialRef } from '../hsm/hsm.js'
import type { KeyRecord } from '../store/store.js'
import { authorize, requestAlias, type RequestDetails } from './authorize.js'
import { type Caller, type ServiceDeps, traceKey } from './deps.js'
import { assertKeyState, assertKeyUsage } from './key-state.js'
import { currentMaterial, loadMaterial, resolveKey } from './resolve-key.js'

/**
 * Refuses an encryption algorithm the key cannot use (none given means SYMMETRIC_DEFAULT), and an
 * encryption context with an RSA key: asymmetric encryption has no additional authenticated data.
 */
export function assertEncryptionAlgorithm(key: KeyRecord, algorithm: string | undefined, context: EncryptionContext | undefined): void {
  assertAlgorithm(key.keySpec, 'encryptionAlgorithms', algorithm ?? 'SYMMETRIC_DEFAULT')
  if (key.keySpec !== 'SYMMETRIC_DEFAULT' && context !== undefined && Object.keys(context).length > 0) {
    // AWS's answer as two emulators record it (floci's measured against AWS, floci-io/floci#3038).
    throw new KmsError('ValidationException', 'EncryptionContext is not supported when encrypting/decrypting with asymmetric CMKs.')
  }
}

/** How an encryption operation is authorised: its IAM action (default `kms:<operation>`), context, algorithm and further condition keys. */
export interface CryptoRequest {
  action?: string
  context?: EncryptionContext | undefined
  algorithm?: string | undefined
  extra?: RequestDetails['extra']
}

/** Resolves a key for an encryption operation (symmetric, or RSA with an RSAES algorithm), authorises the caller and checks the key's state and usage. */
export async function encryptionKey(deps: ServiceDeps, caller: Caller, keyIdInput: string, operation: string, request: CryptoRequest = {}): Promise<KeyRecord> {
  const key = await resolveKey(deps, caller, keyIdInput, { allowAlias: true, crossAccount: true })
  await checkEncryptionUse(deps, caller, key, keyIdInput, operation, request)
  return key
}

/** Authorises the caller for an encryption operation on a resolved key and checks its state, usage and algorithm. */
async function checkEncryptionUse(deps: ServiceDeps, caller: Caller, key: KeyRecord, keyIdInput: string | undefined, operation: string, request: CryptoRequest): Promise<void> {
  const algorithm = request.algorithm
  await authorize(deps, caller, key, request.action ?? `kms:${operation}`, {
    encryptionContext: request.context ?? {},
    ...(keyIdInput === undefined ? {} : requestAlias(keyIdInput)),
    ...(algorithm === undefined ? {} : { encryptionAlgorithm: algorithm }),
    ...(request.extra === undefined ? {} : { extra: request.extra }),
  })
  assertKeyState(key, 'cryptographic')
  assertKeyUsage(key, 'ENCRYPT_DECRYPT', operation)
  assertEncryptionAlgorithm(key, algorithm, request.context)
}

/**
 * Finds the key and key material that made a ciphertext blob. The blob names them in its
 * authenticated header; a KeyId in the request must name the same key (IncorrectKeyException).
 * Every way the blob can be unusable answers the same InvalidCiphertextException. An RSA
 * ciphertext names no key, so it needs a KeyId naming an RSA key; its material is the key's only one.
 */
export async function decryptionKey(
  deps: ServiceDeps,
  caller: Caller,
  blob: Uint8Array,
  keyIdInput: string | undefined,
  operation: string,
  request: CryptoRequest = {},
): Promise<{ key: KeyRecord; material: KeyMaterialRef }> {
  const header = parseBlobHeader(blob)
  const requested = keyIdInput === undefined ? undefined : await resolveKey(deps, caller, keyIdInput, { allowAlias: true, crossAccount: true })
  if (requested && requested.keySpec !== 'SYMMETRIC_DEFAULT') {
    await checkEncryptionUse(deps, caller, requested, keyIdInput, operation, request)
    return { key: requested, material: await currentMaterial(deps, requested) }
  }
  if (!header) throw new KmsError('InvalidCiphertextException')
  if (requested && requested.keyId !== header.keyId) {
    throw new KmsError('IncorrectKeyException', 'The key ID in the request does not identify a CMK that can perform this operation.')
  }
  // The blob may come from a key of another account (Decrypt is cross-account): the key policy decides.
  const key = requested ?? (await deps.store.getKey(header.keyId))
  if (!key || key.region !== deps.region) throw new KmsError('InvalidCiphertextException')
  if (!requested) traceKey(caller, key)
  await checkEncryptionUse(deps, caller, key, keyIdInput, operation, request)
  const material = await loadMaterial(deps, key, Buffer.from(header.hbkId).toString('hex'))
  if (!material) throw new KmsError('InvalidCiphertextException')
  return { key, material }
}

/** The 64-hex KeyMaterialId of a material reference. */
export function keyMaterialId(material: KeyMaterialRef): string {
  return Buffer.from(material.hbkId).toString('hex')
}

/** The KeyMaterialId a response carries: only symmetric encryption keys show one. */
export function responseKeyMaterialId(key: KeyRecord, material: KeyMaterialRef): string | undefined {
  return key.keySpec === 'SYMMETRIC_DEFAULT' ? keyMaterialId(material) : undefined
}
