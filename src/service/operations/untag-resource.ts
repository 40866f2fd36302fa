import { t } from '../../core/shape.js'
import { assertKeyState } from '../key-state.js'
import { mutateKey } from '../mutate-key.js'
import { defineOperation } from '../operation.js'
import { KeyIdType } from '../shapes.js'

export const untagResource = defineOperation({
  name: 'UntagResource',
  input: t.structure({
    KeyId: t.required(KeyIdType),
    TagKeys: t.required(t.list(t.string({ min: 1, max: 128 }))),
  }),
  async run(deps, caller, input) {
    await mutateKey(deps, caller, input.KeyId, 'kms:UntagResource', (key) => {
      assertKeyState(key, 'management')
      const drop = new Set(input.TagKeys)
      return { ...key, tags: key.tags.filter((tag) => !drop.has(tag.TagKey)) }
    }, { tagKeys: input.TagKeys })
    return {}
  },
})
