import { t } from '../../core/shape.js'
import type { KeyMaterialRecord, KeyRecord } from '../../store/store.js'
import { authorize } from '../authorize.js'
import { assertRotatable } from '../key-material.js'
import { pageOf } from '../list-page.js'
import { defineOperation } from '../operation.js'
import { resolveKey } from '../resolve-key.js'
import { KeyIdType, MarkerType } from '../shapes.js'

export const listKeyRotations = defineOperation({
  name: 'ListKeyRotations',
  input: t.structure({
    KeyId: t.required(KeyIdType),
    IncludeKeyMaterial: t.optional(t.enum(['ALL_KEY_MATERIAL', 'ROTATIONS_ONLY'])),
    Limit: t.optional(t.integer({ min: 1, max: 1000 })),
    Marker: t.optional(MarkerType),
  }),
  async run(deps, caller, input) {
    const key = await resolveKey(deps, caller, input.KeyId, { allowAlias: false })
    await authorize(deps, caller, key, 'kms:ListKeyRotations')
    assertRotatable(key)
    const all = input.IncludeKeyMaterial === 'ALL_KEY_MATERIAL'
    // ROTATIONS_ONLY (the default) lists the materials that rotations made current; ALL_KEY_MATERIAL
    // adds the first material and imported material pending rotation.
    const materials = (await deps.store.listKeyMaterials(key.keyId)).filter((m) => all || m.rotationType !== undefined)
    const page = pageOf(materials, input.Limit ?? 100, input.Marker)
    return { Rotations: page.items.map((m) => rotationEntry(key, m)), ...page.more }
  },
})

function rotationEntry(key: KeyRecord, m: KeyMaterialRecord): Record<string, unknown> {
  const state = m.keyMaterialId === key.currentKeyMaterialId ? 'CURRENT' : m.keyMaterialId === key.pendingKeyMaterialId ? 'PENDING_ROTATION' : 'NON_CURRENT'
  return {
    KeyId: key.arn,
    KeyMaterialId: m.keyMaterialId,
    ...(m.description === undefined ? {} : { KeyMaterialDescription: m.description }),
    ...(m.importState === undefined ? {} : { ImportState: m.importState }),
    KeyMaterialState: state,
    ...(m.expirationModel === undefined ? {} : { ExpirationModel: m.expirationModel }),
    ...(m.validTo === undefined ? {} : { ValidTo: m.validTo / 1000 }),
    ...(m.rotationDate === undefined ? {} : { RotationDate: m.rotationDate / 1000 }),
    ...(m.rotationType === undefined ? {} : { RotationType: m.rotationType }),
  }
}
