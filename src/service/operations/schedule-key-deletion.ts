import { t } from '../../core/shape.js'
import { assertKeyState } from '../key-state.js'
import { mutateKey } from '../mutate-key.js'
import { defineOperation } from '../operation.js'
import { KeyIdType } from '../shapes.js'

const DAY_MS = 24 * 60 * 60 * 1000

export const scheduleKeyDeletion = defineOperation({
  name: 'ScheduleKeyDeletion',
  input: t.structure({
    KeyId: t.required(KeyIdType),
    // The model allows 1..365; the API and AWS's answers hold to 7..30 (crypto-design.md §2.9).
    PendingWindowInDays: t.optional(t.integer({ min: 7, max: 30 })),
  }),
  async run(deps, caller, input) {
    const window = input.PendingWindowInDays ?? 30
    // The key id or ARN only, not an alias (mutateKey's default). The deletion itself is done by
    // the DeletionScheduler once deletionDate has passed.
    const key = await mutateKey(deps, caller, input.KeyId, 'kms:ScheduleKeyDeletion', (k) => {
      assertKeyState(k, 'scheduleDeletion')
      return { ...k, keyState: 'PendingDeletion', deletionDate: deps.clock.now() + window * DAY_MS, pendingWindowInDays: window }
    })
    return {
      KeyId: key.arn,
      DeletionDate: key.deletionDate! / 1000,
      KeyState: key.keyState,
      PendingWindowInDays: window,
    }
  },
})
