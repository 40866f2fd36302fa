import { t } from '../../core/shape.js'
import { grantListEntry, PrincipalIdType } from '../grants.js'
import { defineOperation } from '../operation.js'
import { MarkerType } from '../shapes.js'

/**
 * Grants in the caller's account and region whose retiring principal is the one named. Not an
 * operation on a key, so no key policy applies: in AWS only IAM policies govern it, and every
 * Trent caller is an account root today, whom IAM policies do not limit.
 */
export const listRetirableGrants = defineOperation({
  name: 'ListRetirableGrants',
  input: t.structure({
    Limit: t.optional(t.integer({ min: 1, max: 100 })),
    Marker: t.optional(MarkerType),
    RetiringPrincipal: t.required(PrincipalIdType),
  }),
  async run(deps, caller, input) {
    const page = await deps.store.listRetirableGrants(caller.accountId, deps.region, input.RetiringPrincipal, {
      limit: input.Limit ?? 50,
      ...(input.Marker === undefined ? {} : { after: input.Marker }),
    })
    return {
      Grants: page.grants.map((g) => grantListEntry(deps, g, caller.accountId)),
      ...(page.nextMarker === undefined ? { Truncated: false } : { NextMarker: page.nextMarker, Truncated: true }),
    }
  },
})
