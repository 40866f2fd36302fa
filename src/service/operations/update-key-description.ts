import { t } from '../../core/shape.js'
import { assertKeyState } from '../key-state.js'
import { mutateKey } from '../mutate-key.js'
import { defineOperation } from '../operation.js'
import { KeyIdType } from '../shapes.js'

export const updateKeyDescription = defineOperation({
  name: 'UpdateKeyDescription',
  input: t.structure({
    KeyId: t.required(KeyIdType),
    Description: t.required(t.string({ min: 0, max: 8192 })),
  }),
  async run(deps, caller, input) {
    await mutateKey(deps, caller, input.KeyId, 'kms:UpdateKeyDescription', (key) => {
      assertKeyState(key, 'management')
      return { ...key, description: input.Description }
    })
    return {}
  },
})
