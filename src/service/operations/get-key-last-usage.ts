import { t } from '../../core/shape.js'
import { authorize } from '../authorize.js'
import { defineOperation } from '../operation.js'
import { resolveKey } from '../resolve-key.js'
import { KeyIdType } from '../shapes.js'

export const getKeyLastUsage = defineOperation({
  name: 'GetKeyLastUsage',
  input: t.structure({
    KeyId: t.required(KeyIdType),
  }),
  // AWS: key id or key ARN, no aliases; tracking of a key starts at its creation or when this
  // store began tracking (the migration that added it), whichever is later.
  async run(deps, caller, input) {
    const key = await resolveKey(deps, caller, input.KeyId, { allowAlias: false })
    await authorize(deps, caller, key, 'kms:GetKeyLastUsage')
    const [usage, trackingStart] = await Promise.all([
      deps.keyUsage ? deps.keyUsage.lastUsage(key.keyId) : deps.store.getKeyLastUsage(key.keyId),
      deps.store.keyUsageTrackingStart(),
    ])
    return {
      KeyId: key.keyId,
      KeyLastUsage: usage
        ? { Operation: usage.operation, Timestamp: usage.timestamp / 1000, CloudTrailEventId: usage.eventId, KmsRequestId: usage.requestId }
        : {},
      TrackingStartDate: Math.max(key.creationDate, trackingStart) / 1000,
      KeyCreationDate: key.creationDate / 1000,
    }
  },
})
