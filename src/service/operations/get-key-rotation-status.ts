import { t } from '../../core/shape.js'
import { authorize } from '../authorize.js'
import { ON_DEMAND_ROTATION_TIMEOUT_MS, rotatable } from '../key-material.js'
import { defineOperation } from '../operation.js'
import { resolveKey } from '../resolve-key.js'
import { KeyIdType } from '../shapes.js'

export const getKeyRotationStatus = defineOperation({
  name: 'GetKeyRotationStatus',
  input: t.structure({ KeyId: t.required(KeyIdType) }),
  async run(deps, caller, input) {
    const key = await resolveKey(deps, caller, input.KeyId, { allowAlias: false, crossAccount: true })
    await authorize(deps, caller, key, 'kms:GetKeyRotationStatus')
    const now = deps.clock.now()
    const onDemand = key.onDemandRotationStartDate !== undefined && now - key.onDemandRotationStartDate < ON_DEMAND_ROTATION_TIMEOUT_MS ? { OnDemandRotationStartDate: key.onDemandRotationStartDate / 1000 } : {}
    // A key pending deletion does not rotate and reports rotation off; cancelling the deletion restores it.
    const enabled = rotatable(key) && key.rotationPeriodInDays !== undefined && key.keyState !== 'PendingDeletion'
    if (!enabled) return { KeyId: key.arn, KeyRotationEnabled: false, ...onDemand }
    return {
      KeyId: key.arn,
      KeyRotationEnabled: true,
      RotationPeriodInDays: key.rotationPeriodInDays,
      NextRotationDate: key.nextRotationDate! / 1000,
      ...onDemand,
    }
  },
})
