import { t } from '../../core/shape.js'
import { assertKeyState } from '../key-state.js'
import { mutateKey, without } from '../mutate-key.js'
import { defineOperation } from '../operation.js'
import { KeyIdType } from '../shapes.js'

export const cancelKeyDeletion = defineOperation({
  name: 'CancelKeyDeletion',
  input: t.structure({ KeyId: t.required(KeyIdType) }),
  async run(deps, caller, input) {
    // The key comes back Disabled, as in AWS, not in the state it had before.
    const key = await mutateKey(deps, caller, input.KeyId, 'kms:CancelKeyDeletion', (k) => {
      assertKeyState(k, 'cancelDeletion')
      return { ...without(k, 'deletionDate', 'pendingWindowInDays'), keyState: 'Disabled' }
    })
    return { KeyId: key.arn }
  },
})
