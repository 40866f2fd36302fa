import { t } from '../../core/shape.js'
import { assertRotatable } from '../key-material.js'
import { assertKeyState } from '../key-state.js'
import { mutateKey, without } from '../mutate-key.js'
import { defineOperation } from '../operation.js'
import { KeyIdType } from '../shapes.js'

export const disableKeyRotation = defineOperation({
  name: 'DisableKeyRotation',
  input: t.structure({ KeyId: t.required(KeyIdType) }),
  async run(deps, caller, input) {
    await mutateKey(deps, caller, input.KeyId, 'kms:DisableKeyRotation', (key) => {
      assertRotatable(key)
      assertKeyState(key, 'rotation')
      // On-demand rotations in progress are not cancelled (Developer Guide).
      return without(key, 'rotationPeriodInDays', 'nextRotationDate')
    })
    return {}
  },
})
