import { t } from '../../core/shape.js'
import { defineOperation } from '../operation.js'
import { MarkerType } from '../shapes.js'

export const listKeys = defineOperation({
  name: 'ListKeys',
  input: t.structure({
    Limit: t.optional(t.integer({ min: 1, max: 1000 })),
    Marker: t.optional(MarkerType),
  }),
  async run(deps, caller, input) {
    const page = await deps.store.listKeys(caller.accountId, deps.region, input.Limit ?? 100, input.Marker)
    return {
      Keys: page.keys.map((k) => ({ KeyId: k.keyId, KeyArn: k.arn })),
      ...(page.nextMarker === undefined ? {} : { NextMarker: page.nextMarker }),
      Truncated: page.nextMarker !== undefined,
    }
  },
})
