import { t } from '../core/shape.js'
import { MAC_ALGORITHMS, MESSAGE_TYPES, SIGNING_ALGORITHMS } from '../core/key-specs.js'
import type { KeyUsage } from '../core/types.js'
import type { KeyMaterialRef } from '../hsm/hsm.js'
import type { KeyRecord } from '../store/store.js'
import { authorize, requestAlias, type RequestDetails } from './authorize.js'
import type { Caller, ServiceDeps } from './deps.js'
import { checkGrantTokens } from './grants.js'
import { assertKeyState, assertKeyUsage } from './key-state.js'
import { currentMaterial, resolveKey } from './resolve-key.js'
import { GrantTokenList, KeyIdType } from './shapes.js'

/** Shapes of the signing and MAC operations, with the service model's limits. */
export const MessageBlob = t.blob({ min: 1, max: 4096 })
export const SignatureBlob = t.blob({ min: 1, max: 6144 })
export const SigningAlgorithmSpec = t.enum(SIGNING_ALGORITHMS)
export const MessageTypeSpec = t.enum(MESSAGE_TYPES)
export const MacAlgorithmSpec = t.enum(MAC_ALGORITHMS)

/** Members every operation of this family takes. */
export const keyOperationMembers = {
  KeyId: t.required(KeyIdType),
  GrantTokens: t.optional(GrantTokenList),
  DryRun: t.optional(t.boolean()),
} as const

/**
 * Resolves the key of a Sign, Verify, GetPublicKey, GenerateMac, VerifyMac or DeriveSharedSecret
 * request (all cross-account), authorises `kms:<operation>` with the request's condition keys, and
 * checks the key's state and usage (`usages` lists the ones the operation accepts; the first names
 * the refusal). Returns the key and its material.
 */
export async function keyForOperation(
  deps: ServiceDeps,
  caller: Caller,
  input: { KeyId: string; GrantTokens?: string[] | undefined },
  operation: string,
  usages: readonly KeyUsage[],
  details: RequestDetails = {},
): Promise<{ key: KeyRecord; material: KeyMaterialRef }> {
  checkGrantTokens(input.GrantTokens)
  const key = await resolveKey(deps, caller, input.KeyId, { allowAlias: true, crossAccount: true })
  await authorize(deps, caller, key, `kms:${operation}`, { ...details, ...requestAlias(input.KeyId) })
  assertKeyState(key, 'cryptographic')
  if (!usages.includes(key.keyUsage)) assertKeyUsage(key, usages[0]!, operation)
  return { key, material: await currentMaterial(deps, key) }
}
