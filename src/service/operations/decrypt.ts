import { KmsError } from '../../core/errors.js'
import { t } from '../../core/shape.js'
import { dryRunSucceeded } from '../dry-run.js'
import { checkGrantTokens } from '../grants.js'
import { defineOperation } from '../operation.js'
import { CiphertextType, DryRunModifierList, EncryptionAlgorithmSpec, EncryptionContextType, GrantTokenList, KeyIdType, RecipientInfo } from '../shapes.js'
import { decryptionKey, encryptionKey, responseKeyMaterialId } from '../symmetric.js'

export const decrypt = defineOperation({
  name: 'Decrypt',
  input: t.structure({
    CiphertextBlob: t.required(CiphertextType),
    EncryptionContext: t.optional(EncryptionContextType),
    GrantTokens: t.optional(GrantTokenList),
    KeyId: t.optional(KeyIdType),
    EncryptionAlgorithm: t.optional(EncryptionAlgorithmSpec),
    Recipient: t.optional(RecipientInfo),
    DryRun: t.optional(t.boolean()),
    DryRunModifiers: t.optional(DryRunModifierList),
  }),
  async run(deps, caller, input) {
    checkGrantTokens(input.GrantTokens)
    if (input.Recipient !== undefined) throw new KmsError('UnsupportedOperationException', 'Recipient (Nitro Enclaves attestation) is not supported by Trent.')
    if (input.DryRun && input.DryRunModifiers?.includes('IGNORE_CIPHERTEXT')) {
      if (input.KeyId === undefined) throw new KmsError('ValidationException', 'KeyId is required when DryRunModifiers includes IGNORE_CIPHERTEXT.')
      await encryptionKey(deps, caller, input.KeyId, 'Decrypt', { context: input.EncryptionContext, algorithm: input.EncryptionAlgorithm })
      dryRunSucceeded()
    }
    const { key, material } = await decryptionKey(deps, caller, input.CiphertextBlob, input.KeyId, 'Decrypt', { context: input.EncryptionContext, algorithm: input.EncryptionAlgorithm })
    const algorithm = input.EncryptionAlgorithm ?? 'SYMMETRIC_DEFAULT'
    const plaintext = algorithm === 'SYMMETRIC_DEFAULT'
      ? await deps.hsm.decrypt(material, input.CiphertextBlob, input.EncryptionContext ?? {})
      : await deps.hsm.decryptAsymmetric(material, input.CiphertextBlob, algorithm)
    if (input.DryRun) {
      plaintext.fill(0)
      dryRunSucceeded()
    }
    const materialId = responseKeyMaterialId(key, material)
    return { KeyId: key.arn, Plaintext: plaintext, EncryptionAlgorithm: algorithm, ...(materialId === undefined ? {} : { KeyMaterialId: materialId }) }
  },
})
