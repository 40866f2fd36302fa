import { KmsError } from '../../core/errors.js'
import { t } from '../../core/shape.js'
import type { ExpirationModel, KeyMaterialRecord, KeyRecord } from '../../store/store.js'
import { authorize } from '../authorize.js'
import { DAY_MS, assertExternal, rotatable } from '../key-material.js'
import { assertKeyState } from '../key-state.js'
import { retryOnConflict, without } from '../mutate-key.js'
import { defineOperation } from '../operation.js'
import { resolveKey } from '../resolve-key.js'
import { KeyIdType } from '../shapes.js'
import { importTokenHash } from './get-parameters-for-import.js'

/** ValidTo may be at most this far ahead. */
const MAX_VALID_MS = 365 * DAY_MS

/** What one import asks for, checked. */
interface ImportRequest {
  keyMaterialId: string
  ekt: Uint8Array
  importType: 'NEW_KEY_MATERIAL' | 'EXISTING_KEY_MATERIAL' | undefined
  expectedId: string | undefined
  expirationModel: ExpirationModel
  validTo: number | undefined
  description: string | undefined
  now: number
}

export const importKeyMaterial = defineOperation({
  name: 'ImportKeyMaterial',
  input: t.structure({
    KeyId: t.required(KeyIdType),
    ImportToken: t.required(t.blob({ min: 1, max: 6144 })),
    EncryptedKeyMaterial: t.required(t.blob({ min: 1, max: 6144 })),
    ValidTo: t.optional(t.timestamp()),
    ExpirationModel: t.optional(t.enum(['KEY_MATERIAL_EXPIRES', 'KEY_MATERIAL_DOES_NOT_EXPIRE'])),
    ImportType: t.optional(t.enum(['NEW_KEY_MATERIAL', 'EXISTING_KEY_MATERIAL'])),
    // AWS's API model: the pattern, whose + refuses an empty description despite the min of 0.
    KeyMaterialDescription: t.optional(t.string({ min: 0, max: 256, pattern: /^[a-zA-Z0-9:/_\s.-]+$/ })),
    KeyMaterialId: t.optional(t.string({ min: 64, max: 64, pattern: /^[a-f0-9]+$/ })),
  }),
  async run(deps, caller, input) {
    const key = await resolveKey(deps, caller, input.KeyId, { allowAlias: false })
    await authorize(deps, caller, key, 'kms:ImportKeyMaterial')
    assertExternal(key)
    assertKeyState(key, 'importMaterial')
    if (input.ImportType === 'NEW_KEY_MATERIAL' && input.KeyMaterialId !== undefined) {
      // AWS's API reference: no key material id with NEW_KEY_MATERIAL. Guessed wording
      throw new KmsError('ValidationException', 'KeyMaterialId cannot be specified when ImportType is NEW_KEY_MATERIAL.')
    }
    const now = deps.clock.now()
    // AWS's API reference: KEY_MATERIAL_EXPIRES by default; ValidTo in the future, at most 365 days ahead.
    const expirationModel = input.ExpirationModel ?? 'KEY_MATERIAL_EXPIRES'
    if (expirationModel === 'KEY_MATERIAL_EXPIRES') {
      // AWS's answer as recorded in localstack's snapshot tests.
      if (input.ValidTo === undefined) throw new KmsError('ValidationException', 'A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES')
      // Guessed wording
      if (input.ValidTo <= now || input.ValidTo > now + MAX_VALID_MS) throw new KmsError('ValidationException', 'ValidTo must be in the future and at most 365 days from now.')
    } else if (input.ValidTo !== undefined) {
      // Guessed wording
      throw new KmsError('ValidationException', 'A validTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE')
    }

    const tokenHash = importTokenHash(input.ImportToken)
    const token = await deps.store.getImportToken(tokenHash)
    // Guessed wording (both)
    if (!token || token.keyId !== key.keyId) throw new KmsError('InvalidImportTokenException', 'The import token is not valid for this key.')
    if (token.validTo <= now) throw new KmsError('ExpiredImportTokenException', 'The import token has expired. Call GetParametersForImport again.')
    const imported = await deps.hsm.importKeyMaterial(
      { keyArn: key.arn, keyId: key.keyId, keySpec: key.keySpec, origin: key.origin },
      { wrappingKeySpec: token.wrappingKeySpec, wrappingAlgorithm: token.wrappingAlgorithm, wrappedPrivateKey: token.wrappedPrivateKey },
      input.EncryptedKeyMaterial,
    )
    const request: ImportRequest = {
      keyMaterialId: Buffer.from(imported.hbkId).toString('hex'),
      ekt: imported.ekt,
      importType: input.ImportType,
      expectedId: input.KeyMaterialId,
      expirationModel,
      validTo: expirationModel === 'KEY_MATERIAL_EXPIRES' ? input.ValidTo : undefined,
      description: input.KeyMaterialDescription,
      now,
    }
    // Checked once against the key as it is before the token is spent, so a refused import keeps it.
    planImport(key, await deps.store.listKeyMaterials(key.keyId), request)
    // Usable once: of two imports with one token, one spends it.
    if (!(await deps.store.deleteImportToken(tokenHash))) throw new KmsError('InvalidImportTokenException', 'The import token is not valid for this key.')
    return retryOnConflict(deps, key, async (current) => {
      assertKeyState(current, 'importMaterial')
      const plan = planImport(current, await deps.store.listKeyMaterials(key.keyId), request)
      await deps.store.putKeyMaterials(plan.key, [plan.material])
      return { KeyId: key.arn, KeyMaterialId: request.keyMaterialId }
    })
  },
})

/**
 * The key and material records after importing `r` into `key`, or AWS's refusal. The first import
 * makes the material current and the key Enabled. Importing it again (EXISTING_KEY_MATERIAL, the
 * default once the key has material) must bring the same material — the id derived from it must
 * be one the key has — and restores it. NEW_KEY_MATERIAL adds material that RotateKeyOnDemand will
 * make current, one at a time, and only into symmetric encryption keys.
 */
function planImport(key: KeyRecord, materials: readonly KeyMaterialRecord[], r: ImportRequest): { key: KeyRecord; material: KeyMaterialRecord } {
  const first = materials.length === 0
  const type = r.importType ?? (first ? 'NEW_KEY_MATERIAL' : 'EXISTING_KEY_MATERIAL')
  const existing = materials.find((m) => m.keyMaterialId === r.keyMaterialId)
  if (type === 'NEW_KEY_MATERIAL' && !first && !rotatable(key)) {
    // Asymmetric and HMAC keys keep the material of their first import for life. Guessed wording
    throw new KmsError('UnsupportedOperationException', `You cannot import new key material into KMS key ${key.arn}: only symmetric encryption keys support new key material.`)
  }
  // Guessed wording (IncorrectKeyMaterialException messages)
  if (r.expectedId !== undefined && r.expectedId !== r.keyMaterialId) {
    throw new KmsError('IncorrectKeyMaterialException', `The key material does not match the key material id ${r.expectedId}.`)
  }
  if (type === 'EXISTING_KEY_MATERIAL' && !existing) {
    throw new KmsError('IncorrectKeyMaterialException', `The key material is not associated with KMS key ${key.arn}.`)
  }
  if (type === 'NEW_KEY_MATERIAL' && existing) {
    throw new KmsError('IncorrectKeyMaterialException', `The key material is already associated with KMS key ${key.arn}.`)
  }
  if (type === 'NEW_KEY_MATERIAL' && !first && key.pendingKeyMaterialId !== undefined) {
    throw new KmsError(
      'KMSInvalidStateException',
      `New key material (id: ${r.keyMaterialId}) cannot be imported into KMS key ${key.keyId}, because another key material (id: ${key.pendingKeyMaterialId}) is pending rotation.`,
    )
  }
  const description = r.description ?? existing?.description
  const material: KeyMaterialRecord = {
    ...(existing ? identityOf(existing) : { keyId: key.keyId, keyMaterialId: r.keyMaterialId, createdAt: r.now }),
    ekt: r.ekt,
    importState: 'IMPORTED',
    expirationModel: r.expirationModel,
    ...(r.validTo === undefined ? {} : { validTo: r.validTo }),
    ...(description === undefined ? {} : { description }),
  }
  const isCurrent = first || key.currentKeyMaterialId === r.keyMaterialId
  let next: KeyRecord = { ...key, version: key.version + 1 }
  if (isCurrent) {
    next = {
      ...without(next, 'validTo'),
      currentKeyMaterialId: r.keyMaterialId,
      expirationModel: r.expirationModel,
      ...(r.validTo === undefined ? {} : { validTo: r.validTo }),
      ...(key.keyState === 'PendingImport' ? { keyState: 'Enabled' as const } : {}),
    }
  } else if (type === 'NEW_KEY_MATERIAL') {
    next = { ...next, pendingKeyMaterialId: r.keyMaterialId }
  }
  return { key: next, material }
}

/** A stored material without the fields a new import sets afresh: its id, creation and rotation history. */
function identityOf(m: KeyMaterialRecord): Omit<KeyMaterialRecord, 'ekt'> {
  const { ekt: _ekt, importState: _state, expirationModel: _model, validTo: _validTo, ...kept } = m
  return kept
}
