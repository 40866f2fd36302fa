import { KmsError } from '../../core/errors.js'
import { t } from '../../core/shape.js'
import type { KeyRecord } from '../../store/store.js'
import { authorize } from '../authorize.js'
import { assertExternal, deleteImportedMaterial, reread } from '../key-material.js'
import { assertKeyState } from '../key-state.js'
import { defineOperation } from '../operation.js'
import { resolveKey } from '../resolve-key.js'
import { KeyIdType } from '../shapes.js'

const ATTEMPTS = 10

export const deleteImportedKeyMaterial = defineOperation({
  name: 'DeleteImportedKeyMaterial',
  input: t.structure({
    KeyId: t.required(KeyIdType),
    KeyMaterialId: t.optional(t.string({ min: 64, max: 64, pattern: /^[a-f0-9]+$/ })),
  }),
  async run(deps, caller, input) {
    let key: KeyRecord | undefined = await resolveKey(deps, caller, input.KeyId, { allowAlias: false })
    await authorize(deps, caller, key, 'kms:DeleteImportedKeyMaterial')
    assertExternal(key)
    assertKeyState(key, 'importMaterial')
    // Without KeyMaterialId: the current material.
    const keyMaterialId = input.KeyMaterialId ?? key.currentKeyMaterialId
    for (let attempt = 0; attempt < ATTEMPTS && key !== undefined; attempt++) {
      const material = keyMaterialId === undefined ? undefined : await deps.store.getKeyMaterial(key.keyId, keyMaterialId)
      // Guessed wording
      if (!material) throw new KmsError('NotFoundException', `Key material ${keyMaterialId ?? '(none)'} of ${key.arn} does not exist`)
      // Deleting material already deleted (or expired) changes nothing.
      if (material.importState !== 'IMPORTED') return { KeyId: key.arn, KeyMaterialId: material.keyMaterialId }
      try {
        await deleteImportedMaterial(deps, key, material)
        return { KeyId: key.arn, KeyMaterialId: material.keyMaterialId }
      } catch (e) {
        key = await reread(deps, key, e)
        if (key) assertKeyState(key, 'importMaterial')
      }
    }
    throw new KmsError('ConflictException', 'The key was changed by another request; retry.') // Guessed wording
  },
})
