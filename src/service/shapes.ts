import { t } from '../core/shape.js'

/** Shapes shared by several operations, with the limits of the AWS service model. */
export const KeyIdType = t.string({ min: 1, max: 2048 })
export const EncryptionContextType = t.map()
export const GrantTokenList = t.list(t.string({ min: 1, max: 8192 }), { min: 0, max: 10 })
export const CiphertextType = t.blob({ min: 1, max: 6144 })
export const PlaintextType = t.blob({ min: 1, max: 4096 })
export const EncryptionAlgorithmSpec = t.enum(['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE'])
export const DryRunModifierList = t.list(t.enum(['IGNORE_CIPHERTEXT']))
export const RecipientInfo = t.structure({
  KeyEncryptionAlgorithm: t.optional(t.enum(['RSAES_OAEP_SHA_256'])),
  AttestationDocument: t.optional(t.blob({ min: 1, max: 262144 })),
})
export const DataKeySpec = t.enum(['AES_256', 'AES_128'])
export const NumberOfBytesType = t.integer({ min: 1, max: 1024 })
export const MarkerType = t.string({ min: 1, max: 1024, pattern: /^[\u0020-\u00FF]*$/ })
export const PolicyNameType = t.string({ min: 1, max: 128, pattern: /^[\w]+$/ })
export const PolicyType = t.string({ min: 1, max: 131072, pattern: /^[\u0009\u000A\u000D\u0020-\u00FF]+$/ })
