import { KmsError } from '../core/errors.js'
import { DATA_KEY_PAIR_SPECS } from '../core/key-specs.js'
import { t } from '../core/shape.js'
import type { Caller, ServiceDeps } from './deps.js'
import { dryRunSucceeded } from './dry-run.js'
import { checkGrantTokens } from './grants.js'
import { currentMaterial } from './resolve-key.js'
import { EncryptionContextType, GrantTokenList, KeyIdType, RecipientInfo } from './shapes.js'
import { encryptionKey, keyMaterialId } from './symmetric.js'

/** The input of GenerateDataKeyPair; GenerateDataKeyPairWithoutPlaintext takes the same less Recipient. */
export const dataKeyPairMembers = {
  KeyId: t.required(KeyIdType),
  EncryptionContext: t.optional(EncryptionContextType),
  KeyPairSpec: t.required(t.enum(DATA_KEY_PAIR_SPECS)),
  GrantTokens: t.optional(GrantTokenList),
  DryRun: t.optional(t.boolean()),
} as const

/** GenerateDataKeyPair's members. */
export const dataKeyPairWithPlaintextMembers = { ...dataKeyPairMembers, Recipient: t.optional(RecipientInfo) } as const

/** Parsed data key pair request common to both operations. */
export interface DataKeyPairRequest {
  KeyId: string
  EncryptionContext?: Record<string, string>
  KeyPairSpec: string
  GrantTokens?: string[]
  DryRun?: boolean
  Recipient?: object
}

/**
 * Makes a key pair inside the HSM and returns its DER SPKI public key and its PKCS#8 private key
 * encrypted under a symmetric KMS key with the encryption context (and in plaintext when asked).
 */
export async function generateDataKeyPair(deps: ServiceDeps, caller: Caller, input: DataKeyPairRequest, operation: string, withPlaintext: boolean) {
  checkGrantTokens(input.GrantTokens)
  if (input.Recipient !== undefined) throw new KmsError('UnsupportedOperationException', 'Recipient (Nitro Enclaves attestation) is not supported by Trent.')
  const key = await encryptionKey(deps, caller, input.KeyId, operation, {
    context: input.EncryptionContext,
    extra: { 'kms:DataKeyPairSpec': input.KeyPairSpec },
  })
  if (input.KeyPairSpec === 'SM2') {
    throw new KmsError('UnsupportedOperationException', 'SM2 key pairs are available only in the AWS China Regions and are not supported by Trent.')
  }
  if (input.DryRun) dryRunSucceeded()
  const material = await currentMaterial(deps, key)
  const pair = await deps.hsm.generateDataKeyPair(material, input.KeyPairSpec, input.EncryptionContext ?? {}, withPlaintext)
  return {
    PrivateKeyCiphertextBlob: pair.privateKeyCiphertextBlob,
    ...(pair.privateKeyPlaintext === undefined ? {} : { PrivateKeyPlaintext: pair.privateKeyPlaintext }),
    PublicKey: pair.publicKey,
    KeyId: key.arn,
    KeyPairSpec: input.KeyPairSpec,
    KeyMaterialId: keyMaterialId(material),
  }
}
