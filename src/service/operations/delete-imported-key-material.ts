import { KmsError } from '../../core/errors.js'
import { t } from '../../core/shape.js'
import { authorize } from '../authorize.js'
import { assertExternal, deleteImportedMaterial } from '../key-material.js'
import { assertKeyState } from '../key-state.js'
import { retryOnConflict } from '../mutate-key.js'
import { defineOperation } from '../operation.js'
import { resolveKey } from '../resolve-key.js'
import { KeyIdType } from '../shapes.js'

export const deleteImportedKeyMaterial = defineOperation({
  name: 'DeleteImportedKeyMaterial',
  input: t.structure({
    KeyId: t.required(KeyIdType),
    KeyMaterialId: t.optional(t.string({ min: 64, max: 64, pattern: /^[a-f0-9]+$/ })),
  }),
  async run(deps, caller, input) {
    const key = await resolveKey(deps, caller, input.KeyId, { allowAlias: false })
    await authorize(deps, caller, key, 'kms:DeleteImportedKeyMaterial')
    assertExternal(key)
    assertKeyState(key, 'importMaterial')
    // Without KeyMaterialId: the current material.
    const keyMaterialId = input.KeyMaterialId ?? key.currentKeyMaterialId
    return retryOnConflict(deps, key, async (current) => {
      assertKeyState(current, 'importMaterial')
      const material = keyMaterialId === undefined ? undefined : await deps.store.getKeyMaterial(current.keyId, keyMaterialId)
      // Guessed wording
      if (!material) throw new KmsError('NotFoundException', `Key material ${keyMaterialId ?? '(none)'} of ${current.arn} does not exist`)
      // Deleting material already deleted (or expired) changes nothing.
      if (material.importState === 'IMPORTED') await deleteImportedMaterial(deps, current, material)
      return { KeyId: current.arn, KeyMaterialId: material.keyMaterialId }
    })
  },
})
