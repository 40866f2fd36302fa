import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isKmsError } from '../core/errors.js'
import { KEY_STATES, type KeyState } from '../core/types.js'
import type { KeyRecord } from '../store/store.js'
import { assertKeyState, type OperationClass } from './key-state.js'

const arn = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'

function outcome(operation: OperationClass, keyState: KeyState): string {
  try {
    assertKeyState({ arn, keyState } as KeyRecord, operation)
    return 'OK'
  } catch (e) {
    assert.ok(isKmsError(e))
    return `${e.code}: ${e.message.replace(arn, '<arn>')}`
  }
}

describe('key-state table', () => {
  it('cryptographic operations: Enabled and Updating only, Disabled → DisabledException', () => {
    assert.equal(outcome('cryptographic', 'Enabled'), 'OK')
    assert.equal(outcome('cryptographic', 'Updating'), 'OK')
    assert.equal(outcome('cryptographic', 'Disabled'), 'DisabledException: <arn> is disabled.')
    assert.equal(outcome('cryptographic', 'PendingDeletion'), 'KMSInvalidStateException: <arn> is pending deletion.')
    assert.equal(outcome('cryptographic', 'PendingImport'), 'KMSInvalidStateException: <arn> is pending import.')
    assert.equal(outcome('cryptographic', 'Unavailable'), 'KMSInvalidStateException: <arn> is unavailable.')
  })

  it('management operations refuse only keys pending deletion', () => {
    for (const s of KEY_STATES) {
      const expected = s === 'PendingDeletion' || s === 'PendingReplicaDeletion' ? /^KMSInvalidStateException: <arn> is pending/ : /^OK$/
      assert.match(outcome('management', s), expected, s)
    }
  })

  it('ScheduleKeyDeletion refuses a key already pending deletion; CancelKeyDeletion wants one', () => {
    assert.equal(outcome('scheduleDeletion', 'PendingDeletion'), 'KMSInvalidStateException: <arn> is pending deletion.')
    assert.equal(outcome('scheduleDeletion', 'Disabled'), 'OK')
    assert.equal(outcome('cancelDeletion', 'PendingDeletion'), 'OK')
    assert.equal(outcome('cancelDeletion', 'Enabled'), 'KMSInvalidStateException: <arn> is not pending deletion.')
  })

  it('EnableKey/DisableKey work on enabled and disabled keys, not on keys pending deletion or import', () => {
    assert.equal(outcome('enablement', 'Disabled'), 'OK')
    assert.equal(outcome('enablement', 'Enabled'), 'OK')
    assert.equal(outcome('enablement', 'PendingDeletion'), 'KMSInvalidStateException: <arn> is pending deletion.')
    assert.equal(outcome('enablement', 'PendingImport'), 'KMSInvalidStateException: <arn> is pending import.')
  })

  it('read operations accept every state', () => {
    for (const s of KEY_STATES) assert.equal(outcome('any', s), 'OK')
  })
})
