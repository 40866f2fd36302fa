import { KmsError } from '../core/errors.js'
import { t } from '../core/shape.js'
import type { Caller, ServiceDeps } from './deps.js'
import { dryRunSucceeded } from './dry-run.js'
import { checkGrantTokens } from './grants.js'
import { currentMaterial } from './resolve-key.js'
import { DataKeySpec, EncryptionContextType, GrantTokenList, KeyIdType, NumberOfBytesType } from './shapes.js'
import { encryptionKey, keyMaterialId } from './symmetric.js'

/** The input of GenerateDataKey; GenerateDataKeyWithoutPlaintext takes the same less Recipient. */
export const dataKeyMembers = {
  KeyId: t.required(KeyIdType),
  EncryptionContext: t.optional(EncryptionContextType),
  NumberOfBytes: t.optional(NumberOfBytesType),
  KeySpec: t.optional(DataKeySpec),
  GrantTokens: t.optional(GrantTokenList),
  DryRun: t.optional(t.boolean()),
} as const

/** Parsed data key request common to both operations. */
export interface DataKeyRequest {
  KeyId: string
  EncryptionContext?: Record<string, string>
  NumberOfBytes?: number
  KeySpec?: 'AES_256' | 'AES_128'
  GrantTokens?: string[]
  DryRun?: boolean
}

/** Makes a data key inside the HSM under the key's current material. */
export async function generateDataKey(deps: ServiceDeps, caller: Caller, input: DataKeyRequest, operation: string, withPlaintext: boolean) {
  checkGrantTokens(input.GrantTokens)
  if ((input.NumberOfBytes === undefined) === (input.KeySpec === undefined)) {
    throw new KmsError('ValidationException', 'Please specify either number of bytes or key spec.')
  }
  const numberOfBytes = input.NumberOfBytes ?? (input.KeySpec === 'AES_128' ? 16 : 32)
  const key = await encryptionKey(deps, caller, input.KeyId, operation, { context: input.EncryptionContext })
  if (input.DryRun) dryRunSucceeded()
  const material = await currentMaterial(deps, key)
  const dataKey = await deps.hsm.generateDataKey(material, numberOfBytes, input.EncryptionContext ?? {}, withPlaintext)
  return {
    CiphertextBlob: dataKey.ciphertextBlob,
    ...(dataKey.plaintext === undefined ? {} : { Plaintext: dataKey.plaintext }),
    KeyId: key.arn,
    KeyMaterialId: keyMaterialId(material),
  }
}
