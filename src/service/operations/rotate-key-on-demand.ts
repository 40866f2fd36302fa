import { KmsError } from '../../core/errors.js'
import { t } from '../../core/shape.js'
import type { KeyMaterialRecord, KeyRecord } from '../../store/store.js'
import type { ServiceDeps } from '../deps.js'
import { MAX_ON_DEMAND_ROTATIONS, ON_DEMAND_ROTATION_TIMEOUT_MS, assertRotatable, makeCurrent, reread, rotatedMaterial } from '../key-material.js'
import { assertKeyState } from '../key-state.js'
import { mutateKey, without } from '../mutate-key.js'
import { defineOperation } from '../operation.js'
import { KeyIdType } from '../shapes.js'

const ATTEMPTS = 10

/**
 * RotateKeyOnDemand. Two steps: the key is marked (OnDemandRotationStartDate, which makes a second
 * request meanwhile a ConflictException), then the new material is made current and the mark
 * cleared in one conditional write. AWS-generated keys get a fresh HBK from the HSM; imported keys
 * switch to the material imported as NEW_KEY_MATERIAL (PENDING_ROTATION). The automatic schedule
 * is left as it is.
 */
export const rotateKeyOnDemand = defineOperation({
  name: 'RotateKeyOnDemand',
  input: t.structure({ KeyId: t.required(KeyIdType) }),
  async run(deps, caller, input) {
    const marked = await mutateKey(deps, caller, input.KeyId, 'kms:RotateKeyOnDemand', (key) => {
      // AWS checks the state first: a disabled RSA key answers DisabledException (localstack's snapshot tests).
      assertKeyState(key, 'rotation')
      assertRotatable(key)
      const now = deps.clock.now()
      if (key.onDemandRotationStartDate !== undefined && now - key.onDemandRotationStartDate < ON_DEMAND_ROTATION_TIMEOUT_MS) {
        // AWS's API model: ConflictException is its answer to a rotation in progress. Guessed wording
        throw new KmsError('ConflictException', `An on-demand rotation of ${key.arn} is already in progress.`)
      }
      if (key.origin === 'EXTERNAL' && key.pendingKeyMaterialId === undefined) {
        throw new KmsError('KMSInvalidStateException', `No available key material pending rotation for the key: ${key.arn}.`)
      }
      return { ...key, onDemandRotationStartDate: now }
    })
    try {
      const materials = await deps.store.listKeyMaterials(marked.keyId)
      if (materials.filter((m) => m.rotationType === 'ON_DEMAND').length >= MAX_ON_DEMAND_ROTATIONS) {
        throw new KmsError(
          'LimitExceededException',
          `The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: ${marked.arn}`,
        )
      }
      const now = deps.clock.now()
      const material =
        marked.origin === 'EXTERNAL'
          ? pendingMaterial(marked, materials, now)
          : rotatedMaterial(marked, await deps.hsm.generateKeyMaterial({ keyArn: marked.arn, keyId: marked.keyId, keySpec: marked.keySpec, origin: marked.origin }), 'ON_DEMAND', now)
      await complete(deps, marked, material)
    } catch (e) {
      await unmark(deps, marked)
      throw e
    }
    return { KeyId: marked.arn }
  },
})

function pendingMaterial(key: KeyRecord, materials: readonly KeyMaterialRecord[], now: number): KeyMaterialRecord {
  const pending = materials.find((m) => m.keyMaterialId === key.pendingKeyMaterialId && m.importState === 'IMPORTED')
  if (!pending) throw new KmsError('KMSInvalidStateException', `No available key material pending rotation for the key: ${key.arn}.`)
  return { ...pending, rotationType: 'ON_DEMAND', rotationDate: now }
}

/** Makes the material current unless the key changed in a way that ends this rotation (our mark gone). */
async function complete(deps: ServiceDeps, marked: KeyRecord, material: KeyMaterialRecord): Promise<void> {
  if (!(await whileMarked(deps, marked, (key) => makeCurrent(deps, key, material)))) {
    throw new KmsError('ConflictException', 'The key was changed by another request during the rotation; retry.') // Guessed wording
  }
}

/** Clears this request's mark after a failure, so the key can be rotated again at once. */
async function unmark(deps: ServiceDeps, marked: KeyRecord): Promise<void> {
  await whileMarked(deps, marked, (key) => deps.store.updateKey({ ...without(key, 'onDemandRotationStartDate'), version: key.version + 1 }))
}

/** Runs a conditional `write` on the freshest key for as long as it carries this request's mark; true once it succeeded. */
async function whileMarked(deps: ServiceDeps, marked: KeyRecord, write: (key: KeyRecord) => Promise<unknown>): Promise<boolean> {
  let key: KeyRecord | undefined = marked
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (key === undefined || key.onDemandRotationStartDate !== marked.onDemandRotationStartDate) return false
    try {
      await write(key)
      return true
    } catch (e) {
      key = await reread(deps, key, e)
    }
  }
  return false
}
