import { KmsError } from '../../core/errors.js'
import { t } from '../../core/shape.js'
import { dryRunSucceeded } from '../dry-run.js'
import { checkGrantTokens } from '../grants.js'
import { defineOperation } from '../operation.js'
import { currentMaterial } from '../resolve-key.js'
import { CiphertextType, DryRunModifierList, EncryptionAlgorithmSpec, EncryptionContextType, GrantTokenList, KeyIdType } from '../shapes.js'
import { decryptionKey, encryptionKey, responseKeyMaterialId } from '../symmetric.js'

export const reEncrypt = defineOperation({
  name: 'ReEncrypt',
  input: t.structure({
    CiphertextBlob: t.required(CiphertextType),
    SourceEncryptionContext: t.optional(EncryptionContextType),
    SourceKeyId: t.optional(KeyIdType),
    DestinationKeyId: t.required(KeyIdType),
    DestinationEncryptionContext: t.optional(EncryptionContextType),
    SourceEncryptionAlgorithm: t.optional(EncryptionAlgorithmSpec),
    DestinationEncryptionAlgorithm: t.optional(EncryptionAlgorithmSpec),
    GrantTokens: t.optional(GrantTokenList),
    DryRun: t.optional(t.boolean()),
    DryRunModifiers: t.optional(DryRunModifierList),
  }),
  async run(deps, caller, input) {
    checkGrantTokens(input.GrantTokens)
    const destination = await encryptionKey(deps, caller, input.DestinationKeyId, 'ReEncrypt', {
      action: 'kms:ReEncryptTo',
      context: input.DestinationEncryptionContext,
      algorithm: input.DestinationEncryptionAlgorithm,
    })
    if (input.DryRun && input.DryRunModifiers?.includes('IGNORE_CIPHERTEXT')) {
      if (input.SourceKeyId === undefined) throw new KmsError('ValidationException', 'SourceKeyId is required when DryRunModifiers includes IGNORE_CIPHERTEXT.')
      await encryptionKey(deps, caller, input.SourceKeyId, 'ReEncrypt', {
        action: 'kms:ReEncryptFrom',
        context: input.SourceEncryptionContext,
        algorithm: input.SourceEncryptionAlgorithm,
      })
      dryRunSucceeded()
    }
    const source = await decryptionKey(deps, caller, input.CiphertextBlob, input.SourceKeyId, 'ReEncrypt', {
      action: 'kms:ReEncryptFrom',
      context: input.SourceEncryptionContext,
      algorithm: input.SourceEncryptionAlgorithm,
    })
    const destinationMaterial = await currentMaterial(deps, destination)
    const sourceAlgorithm = input.SourceEncryptionAlgorithm ?? 'SYMMETRIC_DEFAULT'
    const destinationAlgorithm = input.DestinationEncryptionAlgorithm ?? 'SYMMETRIC_DEFAULT'
    const blob = sourceAlgorithm === 'SYMMETRIC_DEFAULT' && destinationAlgorithm === 'SYMMETRIC_DEFAULT'
      ? await deps.hsm.reEncrypt(source.material, input.CiphertextBlob, input.SourceEncryptionContext ?? {}, destinationMaterial, input.DestinationEncryptionContext ?? {})
      : await deps.hsm.reEncryptAsymmetric(
          source.material,
          input.CiphertextBlob,
          input.SourceEncryptionContext ?? {},
          sourceAlgorithm,
          destinationMaterial,
          input.DestinationEncryptionContext ?? {},
          destinationAlgorithm,
        )
    if (input.DryRun) dryRunSucceeded()
    const sourceMaterialId = responseKeyMaterialId(source.key, source.material)
    const destinationMaterialId = responseKeyMaterialId(destination, destinationMaterial)
    return {
      CiphertextBlob: blob,
      SourceKeyId: source.key.arn,
      KeyId: destination.arn,
      SourceEncryptionAlgorithm: sourceAlgorithm,
      DestinationEncryptionAlgorithm: destinationAlgorithm,
      ...(sourceMaterialId === undefined ? {} : { SourceKeyMaterialId: sourceMaterialId }),
      ...(destinationMaterialId === undefined ? {} : { DestinationKeyMaterialId: destinationMaterialId }),
    }
  },
})
