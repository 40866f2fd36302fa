/** An encryption context: non-secret string pairs bound to a ciphertext as additional authenticated data. */
export type EncryptionContext = Readonly<Record<string, string>>

/** Key specs Trent knows by name (the AWS KeySpec enum). */
export const KEY_SPECS = [
  'RSA_2048', 'RSA_3072', 'RSA_4096',
  'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1', 'ECC_NIST_EDWARDS25519',
  'SYMMETRIC_DEFAULT',
  'HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512',
  'SM2',
  'ML_DSA_44', 'ML_DSA_65', 'ML_DSA_87',
] as const
export type KeySpec = (typeof KEY_SPECS)[number]

export const KEY_USAGES = ['SIGN_VERIFY', 'ENCRYPT_DECRYPT', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT'] as const
export type KeyUsage = (typeof KEY_USAGES)[number]

export const ORIGINS = ['AWS_KMS', 'EXTERNAL', 'AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE'] as const
export type Origin = (typeof ORIGINS)[number]

export const KEY_STATES = [
  'Creating', 'Enabled', 'Disabled', 'PendingDeletion', 'PendingImport', 'PendingReplicaDeletion',
  'Unavailable', 'Updating',
] as const
export type KeyState = (typeof KEY_STATES)[number]
