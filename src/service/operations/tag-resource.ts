import { t } from '../../core/shape.js'
import { assertKeyState } from '../key-state.js'
import { mutateKey } from '../mutate-key.js'
import { defineOperation } from '../operation.js'
import { KeyIdType } from '../shapes.js'
import { checkTags, TagList } from '../tags.js'

export const tagResource = defineOperation({
  name: 'TagResource',
  input: t.structure({
    KeyId: t.required(KeyIdType),
    Tags: t.required(TagList),
  }),
  async run(deps, caller, input) {
    await mutateKey(deps, caller, input.KeyId, 'kms:TagResource', (key) => {
      assertKeyState(key, 'management')
      checkTags(input.Tags, key.tags)
      // A tag key that exists already takes the new value, as in AWS.
      const incoming = new Map(input.Tags.map((tag) => [tag.TagKey, tag.TagValue]))
      const kept = key.tags.filter((tag) => !incoming.has(tag.TagKey))
      return { ...key, tags: [...kept, ...input.Tags.map((tag) => ({ TagKey: tag.TagKey, TagValue: tag.TagValue }))] }
    }, { requestTags: Object.fromEntries(input.Tags.map((tag) => [tag.TagKey, tag.TagValue])) })
    return {}
  },
})
