import { KmsError } from './errors.js'
import type { KeySpec, KeyUsage } from './types.js'

/**
 * What AWS KMS allows for each key spec (API reference, CreateKey and "Key spec reference"): the key
 * usages it may have and, per usage, the algorithms DescribeKey lists. One table, read by CreateKey,
 * DescribeKey, GetPublicKey and every cryptographic operation, so the rules live in one place.
 */
export interface KeySpecRule {
  usages: readonly KeyUsage[]
  encryptionAlgorithms?: readonly string[]
  signingAlgorithms?: readonly string[]
  keyAgreementAlgorithms?: readonly string[]
  macAlgorithms?: readonly string[]
}

const RSA: KeySpecRule = {
  usages: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'],
  encryptionAlgorithms: ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'],
  // The order DescribeKey shows them in.
  signingAlgorithms: [
    'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512',
    'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512',
  ],
}
const nistCurve = (algorithm: string): KeySpecRule => ({
  usages: ['SIGN_VERIFY', 'KEY_AGREEMENT'],
  signingAlgorithms: [algorithm],
  keyAgreementAlgorithms: ['ECDH'],
})
const hmac = (algorithm: string): KeySpecRule => ({ usages: ['GENERATE_VERIFY_MAC'], macAlgorithms: [algorithm] })

/** The rule of every key spec. */
export const KEY_SPEC_RULES: Readonly<Record<KeySpec, KeySpecRule>> = {
  SYMMETRIC_DEFAULT: { usages: ['ENCRYPT_DECRYPT'], encryptionAlgorithms: ['SYMMETRIC_DEFAULT'] },
  RSA_2048: RSA,
  RSA_3072: RSA,
  RSA_4096: RSA,
  ECC_NIST_P256: nistCurve('ECDSA_SHA_256'),
  ECC_NIST_P384: nistCurve('ECDSA_SHA_384'),
  ECC_NIST_P521: nistCurve('ECDSA_SHA_512'),
  ECC_SECG_P256K1: { usages: ['SIGN_VERIFY'], signingAlgorithms: ['ECDSA_SHA_256'] },
  ECC_NIST_EDWARDS25519: { usages: ['SIGN_VERIFY'], signingAlgorithms: ['ED25519_SHA_512', 'ED25519_PH_SHA_512'] },
  HMAC_224: hmac('HMAC_SHA_224'),
  HMAC_256: hmac('HMAC_SHA_256'),
  HMAC_384: hmac('HMAC_SHA_384'),
  HMAC_512: hmac('HMAC_SHA_512'),
  SM2: { usages: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'KEY_AGREEMENT'], encryptionAlgorithms: ['SM2PKE'], signingAlgorithms: ['SM2DSA'], keyAgreementAlgorithms: ['ECDH'] },
  ML_DSA_44: { usages: ['SIGN_VERIFY'], signingAlgorithms: ['ML_DSA_SHAKE_256'] },
  ML_DSA_65: { usages: ['SIGN_VERIFY'], signingAlgorithms: ['ML_DSA_SHAKE_256'] },
  ML_DSA_87: { usages: ['SIGN_VERIFY'], signingAlgorithms: ['ML_DSA_SHAKE_256'] },
}

/**
 * Key specs this Trent cannot create, with the reason. SM2 exists only in AWS's China Regions;
 * ML-DSA needs an audited implementation that Node 20's OpenSSL 3.0 does not have.
 */
export const UNSUPPORTED_KEY_SPECS: Readonly<Partial<Record<KeySpec, string>>> = {
  SM2: 'SM2 keys are available only in the AWS China Regions and are not supported by Trent.',
  ML_DSA_44: 'ML-DSA keys are not supported by this Trent version.',
  ML_DSA_65: 'ML-DSA keys are not supported by this Trent version.',
  ML_DSA_87: 'ML-DSA keys are not supported by this Trent version.',
}

/** The signing algorithms and the digest length each takes with MessageType DIGEST. */
export const SIGNING_ALGORITHMS = [
  'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512',
  'ECDSA_SHA_256', 'ECDSA_SHA_384', 'ECDSA_SHA_512',
  'SM2DSA', 'ML_DSA_SHAKE_256', 'ED25519_SHA_512', 'ED25519_PH_SHA_512',
] as const
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number]

export const MESSAGE_TYPES = ['RAW', 'DIGEST', 'EXTERNAL_MU'] as const
export type MessageType = (typeof MESSAGE_TYPES)[number]

export const MAC_ALGORITHMS = ['HMAC_SHA_224', 'HMAC_SHA_256', 'HMAC_SHA_384', 'HMAC_SHA_512'] as const
export type MacAlgorithm = (typeof MAC_ALGORITHMS)[number]

export const ASYMMETRIC_ENCRYPTION_ALGORITHMS = ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] as const

/** KeyPairSpec values of GenerateDataKeyPair (the service model's DataKeyPairSpec enum). */
export const DATA_KEY_PAIR_SPECS = [
  'RSA_2048', 'RSA_3072', 'RSA_4096',
  'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1', 'ECC_NIST_EDWARDS25519',
  'SM2',
] as const
export type DataKeyPairSpec = (typeof DATA_KEY_PAIR_SPECS)[number]

/** The hash behind a signing algorithm and the length of its digest in bytes (RAW hashes with it; DIGEST must be this long). */
export const SIGNING_HASH: Readonly<Partial<Record<SigningAlgorithm, { hash: string; digestBytes: number }>>> = {
  RSASSA_PSS_SHA_256: { hash: 'sha256', digestBytes: 32 },
  RSASSA_PSS_SHA_384: { hash: 'sha384', digestBytes: 48 },
  RSASSA_PSS_SHA_512: { hash: 'sha512', digestBytes: 64 },
  RSASSA_PKCS1_V1_5_SHA_256: { hash: 'sha256', digestBytes: 32 },
  RSASSA_PKCS1_V1_5_SHA_384: { hash: 'sha384', digestBytes: 48 },
  RSASSA_PKCS1_V1_5_SHA_512: { hash: 'sha512', digestBytes: 64 },
  ECDSA_SHA_256: { hash: 'sha256', digestBytes: 32 },
  ECDSA_SHA_384: { hash: 'sha384', digestBytes: 48 },
  ECDSA_SHA_512: { hash: 'sha512', digestBytes: 64 },
  ED25519_SHA_512: { hash: 'sha512', digestBytes: 64 },
  ED25519_PH_SHA_512: { hash: 'sha512', digestBytes: 64 },
}

/** Whether a key spec is asymmetric (has a public key). */
export function isAsymmetric(keySpec: KeySpec): boolean {
  return keySpec.startsWith('RSA_') || keySpec.startsWith('ECC_') || keySpec === 'SM2' || keySpec.startsWith('ML_DSA_')
}

/** Refuses an algorithm of one kind that the key spec does not offer, with AWS's message. */
export function assertAlgorithm(keySpec: string, kind: keyof Omit<KeySpecRule, 'usages'>, algorithm: string): void {
  const rule = KEY_SPEC_RULES[keySpec as KeySpec] as KeySpecRule | undefined
  if (!rule?.[kind]?.includes(algorithm)) {
    throw new KmsError('InvalidKeyUsageException', `Algorithm ${algorithm} is incompatible with key spec ${keySpec}.`)
  }
}

/** The algorithm lists DescribeKey and GetPublicKey show for a key: those of its usage only. */
export function algorithmLists(keySpec: KeySpec, keyUsage: KeyUsage): Record<string, readonly string[]> {
  const rule = KEY_SPEC_RULES[keySpec]
  const list = {
    ENCRYPT_DECRYPT: ['EncryptionAlgorithms', rule.encryptionAlgorithms],
    SIGN_VERIFY: ['SigningAlgorithms', rule.signingAlgorithms],
    KEY_AGREEMENT: ['KeyAgreementAlgorithms', rule.keyAgreementAlgorithms],
    GENERATE_VERIFY_MAC: ['MacAlgorithms', rule.macAlgorithms],
  } as const
  const [name, algorithms] = list[keyUsage]
  return algorithms === undefined ? {} : { [name]: algorithms }
}
