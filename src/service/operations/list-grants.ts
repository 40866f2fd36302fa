import { t } from '../../core/shape.js'
import { authorize } from '../authorize.js'
import { GrantIdType, grantListEntry, invalidGrantId, isGrantId, PrincipalIdType } from '../grants.js'
import { defineOperation } from '../operation.js'
import { resolveKey } from '../resolve-key.js'
import { KeyIdType, MarkerType } from '../shapes.js'

export const listGrants = defineOperation({
  name: 'ListGrants',
  input: t.structure({
    Limit: t.optional(t.integer({ min: 1, max: 100 })),
    Marker: t.optional(MarkerType),
    KeyId: t.required(KeyIdType),
    GrantId: t.optional(GrantIdType),
    GranteePrincipal: t.optional(PrincipalIdType),
  }),
  async run(deps, caller, input) {
    const key = await resolveKey(deps, caller, input.KeyId, { allowAlias: false, crossAccount: true })
    await authorize(deps, caller, key, 'kms:ListGrants')
    // InvalidGrantIdException is among ListGrants' errors (service model): for an id no grant can have.
    if (input.GrantId !== undefined && !isGrantId(input.GrantId)) throw invalidGrantId()
    const page = await deps.store.listGrants(key.keyId, {
      limit: input.Limit ?? 50,
      ...(input.Marker === undefined ? {} : { after: input.Marker }),
      ...(input.GrantId === undefined ? {} : { grantId: input.GrantId }),
      ...(input.GranteePrincipal === undefined ? {} : { granteePrincipal: input.GranteePrincipal }),
    })
    return {
      Grants: page.grants.map((g) => grantListEntry(deps, g, key.accountId)),
      ...(page.nextMarker === undefined ? { Truncated: false } : { NextMarker: page.nextMarker, Truncated: true }),
    }
  },
})
