import { KmsError } from '../../core/errors.js'
import { assertAlgorithm } from '../../core/key-specs.js'
import { t } from '../../core/shape.js'
import { keyForOperation, keyOperationMembers } from '../asymmetric.js'
import { dryRunSucceeded } from '../dry-run.js'
import { defineOperation } from '../operation.js'
import { RecipientInfo } from '../shapes.js'

export const deriveSharedSecret = defineOperation({
  name: 'DeriveSharedSecret',
  input: t.structure({
    ...keyOperationMembers,
    KeyAgreementAlgorithm: t.required(t.enum(['ECDH'])),
    PublicKey: t.required(t.blob({ min: 1, max: 8192 })),
    Recipient: t.optional(RecipientInfo),
  }),
  async run(deps, caller, input) {
    if (input.Recipient !== undefined) throw new KmsError('UnsupportedOperationException', 'Recipient (Nitro Enclaves attestation) is not supported by Trent.')
    const { key, material } = await keyForOperation(deps, caller, input, 'DeriveSharedSecret', ['KEY_AGREEMENT'], {
      extra: { 'kms:KeyAgreementAlgorithm': input.KeyAgreementAlgorithm },
    })
    assertAlgorithm(key.keySpec, 'keyAgreementAlgorithms', input.KeyAgreementAlgorithm)
    if (input.DryRun) dryRunSucceeded()
    const sharedSecret = await deps.hsm.deriveSharedSecret(material, input.PublicKey)
    return { KeyId: key.arn, SharedSecret: sharedSecret, KeyAgreementAlgorithm: input.KeyAgreementAlgorithm, KeyOrigin: key.origin }
  },
})
