import { t } from '../../core/shape.js'
import { pageOf } from '../list-page.js'
import { authorize } from '../authorize.js'
import { defineOperation } from '../operation.js'
import { resolveKey } from '../resolve-key.js'
import { KeyIdType, MarkerType } from '../shapes.js'

export const listResourceTags = defineOperation({
  name: 'ListResourceTags',
  input: t.structure({
    KeyId: t.required(KeyIdType),
    Limit: t.optional(t.integer({ min: 1, max: 50 })),
    Marker: t.optional(MarkerType),
  }),
  async run(deps, caller, input) {
    const key = await resolveKey(deps, caller, input.KeyId, { allowAlias: false })
    await authorize(deps, caller, key, 'kms:ListResourceTags')
    const page = pageOf(key.tags, input.Limit ?? 50, input.Marker)
    return { Tags: page.items, ...page.more }
  },
})
