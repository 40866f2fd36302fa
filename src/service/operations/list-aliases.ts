import { t } from '../../core/shape.js'
import { aliasEntry, LIST_ALIASES_DEFAULT_LIMIT, LIST_ALIASES_MAX_LIMIT, resolveOwnKey } from '../alias-rules.js'
import { defineOperation } from '../operation.js'
import { KeyIdType, MarkerType } from '../shapes.js'

export const listAliases = defineOperation({
  name: 'ListAliases',
  input: t.structure({
    KeyId: t.optional(KeyIdType),
    // The model's LimitType is 1..1000; ListAliases documents at most 100 and returns no more.
    Limit: t.optional(t.integer({ min: 1, max: 1000 })),
    Marker: t.optional(MarkerType),
  }),
  async run(deps, caller, input) {
    const key = input.KeyId === undefined ? undefined : await resolveOwnKey(deps, caller, input.KeyId)
    const page = await deps.store.listAliases(caller.accountId, deps.region, {
      limit: Math.min(input.Limit ?? LIST_ALIASES_DEFAULT_LIMIT, LIST_ALIASES_MAX_LIMIT),
      ...(key === undefined ? {} : { keyId: key.keyId }),
      ...(input.Marker === undefined ? {} : { after: input.Marker }),
    })
    return {
      Aliases: page.aliases.map((a) => aliasEntry(deps.partition, a)),
      ...(page.nextMarker === undefined ? {} : { NextMarker: page.nextMarker }),
      Truncated: page.nextMarker !== undefined,
    }
  },
})
