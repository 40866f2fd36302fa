import { t } from '../../core/shape.js'
import { assertKeyState } from '../key-state.js'
import { mutateKey } from '../mutate-key.js'
import { defineOperation } from '../operation.js'
import { KeyIdType } from '../shapes.js'

export const disableKey = defineOperation({
  name: 'DisableKey',
  input: t.structure({ KeyId: t.required(KeyIdType) }),
  async run(deps, caller, input) {
    await mutateKey(deps, caller, input.KeyId, 'kms:DisableKey', (key) => {
      assertKeyState(key, 'enablement')
      return { ...key, keyState: 'Disabled' }
    })
    return {}
  },
})
