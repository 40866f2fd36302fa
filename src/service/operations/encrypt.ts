import { t } from '../../core/shape.js'
import { dryRunSucceeded } from '../dry-run.js'
import { checkGrantTokens } from '../grants.js'
import { defineOperation } from '../operation.js'
import { currentMaterial } from '../resolve-key.js'
import { EncryptionAlgorithmSpec, EncryptionContextType, GrantTokenList, KeyIdType, PlaintextType } from '../shapes.js'
import { encryptionKey } from '../symmetric.js'

export const encrypt = defineOperation({
  name: 'Encrypt',
  input: t.structure({
    KeyId: t.required(KeyIdType),
    Plaintext: t.required(PlaintextType),
    EncryptionContext: t.optional(EncryptionContextType),
    GrantTokens: t.optional(GrantTokenList),
    EncryptionAlgorithm: t.optional(EncryptionAlgorithmSpec),
    DryRun: t.optional(t.boolean()),
  }),
  async run(deps, caller, input) {
    checkGrantTokens(input.GrantTokens)
    const key = await encryptionKey(deps, caller, input.KeyId, 'Encrypt', { context: input.EncryptionContext, algorithm: input.EncryptionAlgorithm })
    if (input.DryRun) dryRunSucceeded()
    const material = await currentMaterial(deps, key)
    const algorithm = input.EncryptionAlgorithm ?? 'SYMMETRIC_DEFAULT'
    const blob = algorithm === 'SYMMETRIC_DEFAULT'
      ? await deps.hsm.encrypt(material, input.Plaintext, input.EncryptionContext ?? {})
      : await deps.hsm.encryptAsymmetric(material, input.Plaintext, algorithm)
    return { CiphertextBlob: blob, KeyId: key.arn, EncryptionAlgorithm: algorithm }
  },
})
