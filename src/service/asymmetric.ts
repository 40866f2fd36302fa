import { t } from '../core/shape.js'
import { MAC_ALGORITHMS, MESSAGE_TYPES, SIGNING_ALGORITHMS, assertAlgorithm } from '../core/key-specs.js'
import type { KeyUsage } from '../core/types.js'
import { checkSignInput } from '../hsm/asymmetric.js'
import type { KeyMaterialRef } from '../hsm/hsm.js'
import type { KeyRecord } from '../store/store.js'
import { authorize, requestAlias, type RequestDetails } from './authorize.js'
import type { Caller, ServiceDeps } from './deps.js'
import { dryRunSucceeded } from './dry-run.js'
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

/** Members of Sign; Verify adds Signature. */
export const signMembers = {
  ...keyOperationMembers,
  Message: t.required(MessageBlob),
  MessageType: t.optional(MessageTypeSpec),
  SigningAlgorithm: t.required(SigningAlgorithmSpec),
} as const

/**
 * The key of a Sign or Verify request, authorised with `kms:SigningAlgorithm` and `kms:MessageType`
 * (RAW when not given), with the message checked against its type and algorithm. Ends a dry run.
 */
export async function signingKey(
  deps: ServiceDeps,
  caller: Caller,
  input: { KeyId: string; GrantTokens?: string[] | undefined; Message: Uint8Array; MessageType?: string | undefined; SigningAlgorithm: string; DryRun?: boolean | undefined },
  operation: 'Sign' | 'Verify',
): Promise<{ key: KeyRecord; material: KeyMaterialRef; messageType: string }> {
  const messageType = input.MessageType ?? 'RAW'
  const { key, material } = await keyForOperation(deps, caller, input, operation, ['SIGN_VERIFY'], { signingAlgorithm: input.SigningAlgorithm, messageType })
  checkSignInput(key.keySpec, input.SigningAlgorithm, messageType, input.Message)
  if (input.DryRun) dryRunSucceeded()
  return { key, material, messageType }
}

/** Members of GenerateMac; VerifyMac adds Mac. */
export const macMembers = {
  ...keyOperationMembers,
  Message: t.required(MessageBlob),
  MacAlgorithm: t.required(MacAlgorithmSpec),
} as const

/** The key of a GenerateMac or VerifyMac request, authorised with `kms:MacAlgorithm`, its algorithm checked. Ends a dry run. */
export async function macKey(
  deps: ServiceDeps,
  caller: Caller,
  input: { KeyId: string; GrantTokens?: string[] | undefined; MacAlgorithm: string; DryRun?: boolean | undefined },
  operation: 'GenerateMac' | 'VerifyMac',
): Promise<{ key: KeyRecord; material: KeyMaterialRef }> {
  const found = await keyForOperation(deps, caller, input, operation, ['GENERATE_VERIFY_MAC'], { macAlgorithm: input.MacAlgorithm })
  assertAlgorithm(found.key.keySpec, 'macAlgorithms', input.MacAlgorithm)
  if (input.DryRun) dryRunSucceeded()
  return found
}
