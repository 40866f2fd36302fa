import { KmsError } from '../../core/errors.js'
import { t } from '../../core/shape.js'
import { DAY_MS, assertRotatable } from '../key-material.js'
import { assertKeyState } from '../key-state.js'
import { mutateKey } from '../mutate-key.js'
import { defineOperation } from '../operation.js'
import { KeyIdType } from '../shapes.js'

export const enableKeyRotation = defineOperation({
  name: 'EnableKeyRotation',
  input: t.structure({
    KeyId: t.required(KeyIdType),
    RotationPeriodInDays: t.optional(t.integer({ min: 90, max: 2560 })),
  }),
  async run(deps, caller, input) {
    const period = input.RotationPeriodInDays ?? 365
    await mutateKey(deps, caller, input.KeyId, 'kms:EnableKeyRotation', (key) => {
      assertRotatable(key)
      if (key.origin === 'EXTERNAL') {
        // Automatic rotation needs material that KMS can generate; imported keys rotate on demand only.
        // AWS's wording for a refused origin (localstack's snapshot tests; see assertRotatable).
        throw new KmsError('UnsupportedOperationException', `${key.arn} origin is EXTERNAL which is not valid for this operation.`)
      }
      assertKeyState(key, 'rotation')
      const now = deps.clock.now()
      // A new period counts from the last rotation (or from enabling), not from this change; a date
      // already past makes the rotation job rotate at its next run.
      const since = key.nextRotationDate !== undefined && key.rotationPeriodInDays !== undefined ? key.nextRotationDate - key.rotationPeriodInDays * DAY_MS : now
      return { ...key, rotationPeriodInDays: period, nextRotationDate: Math.max(now, since + period * DAY_MS) }
    })
    return {}
  },
})
