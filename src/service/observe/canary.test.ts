import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { KeyRecord } from '../../store/store.js'
import type { Caller } from '../deps.js'
import { CANARY_TAG, detectCanaries, parseCanaryContext } from './canary.js'

function key(id: string, tags: KeyRecord['tags'] = []): KeyRecord {
  return { keyId: id, arn: `arn:aws:kms:us-east-1:111122223333:key/${id}`, tags } as KeyRecord
}

function caller(...keys: KeyRecord[]): Caller {
  return { accountId: '111122223333', principalArn: 'arn:aws:iam::111122223333:user/mallory', accessKeyId: 'AKIA', sourceIp: '10.0.0.9', trace: { keys } }
}

const NOW = (): Date => new Date('2026-11-23T12:00:00Z')
const NONE = new Map<string, Set<string>>()

describe('canary detection', () => {
  const canary = key('c1', [{ TagKey: 'team', TagValue: 'x' }, { TagKey: CANARY_TAG, TagValue: '' }])
  const plain = key('p1', [{ TagKey: 'trent:canary-not', TagValue: 'x' }])

  it('alerts on a cryptographic use of a canary key, allowed or denied, with who and where', () => {
    const [allowed] = detectCanaries({ operation: 'Encrypt', requestId: 'r1', caller: caller(canary), input: {}, errorCode: undefined }, NONE, NOW)
    assert.deepEqual(allowed, {
      type: 'canary-key',
      keyArn: canary.arn,
      time: '2026-11-23T12:00:00.000Z',
      operation: 'Encrypt',
      principalArn: 'arn:aws:iam::111122223333:user/mallory',
      sourceIp: '10.0.0.9',
      requestId: 'r1',
      outcome: 'allowed',
    })
    const [denied] = detectCanaries({ operation: 'Decrypt', requestId: 'r2', caller: caller(canary), input: {}, errorCode: 'AccessDeniedException' }, NONE, NOW)
    assert.equal(denied!.outcome, 'denied')
    assert.equal(denied!.errorCode, 'AccessDeniedException')
    const [failed] = detectCanaries({ operation: 'Sign', requestId: 'r3', caller: caller(canary), input: {}, errorCode: 'DisabledException' }, NONE, NOW)
    assert.equal(failed!.outcome, 'failed')
  })

  it('ignores management operations and keys without the exact tag key', () => {
    assert.deepEqual(detectCanaries({ operation: 'DescribeKey', requestId: 'r', caller: caller(canary), input: {}, errorCode: undefined }, NONE, NOW), [])
    assert.deepEqual(detectCanaries({ operation: 'Encrypt', requestId: 'r', caller: caller(plain), input: {}, errorCode: undefined }, NONE, NOW), [])
  })

  it('raises one alert per canary key of a ReEncrypt, not one per resolution', () => {
    const other = key('c2', [{ TagKey: CANARY_TAG, TagValue: 'yes' }])
    const alerts = detectCanaries({ operation: 'ReEncrypt', requestId: 'r', caller: caller(canary, plain, canary, other), input: {}, errorCode: undefined }, NONE, NOW)
    assert.deepEqual(alerts.map((a) => a.keyArn), [canary.arn, other.arn])
  })

  it('alerts on a configured canary context pair in any context member, of any operation', () => {
    const contexts = new Map([['app', new Set(['honeypot', 'decoy'])]])
    const input = { SourceEncryptionContext: { app: 'real' }, DestinationEncryptionContext: { app: 'decoy', other: 'honeypot' } }
    const alerts = detectCanaries({ operation: 'ReEncrypt', requestId: 'r', caller: caller(plain), input, errorCode: undefined }, contexts, NOW)
    assert.equal(alerts.length, 1)
    assert.equal(alerts[0]!.type, 'canary-context')
    assert.equal(alerts[0]!.contextKey, 'app')
    assert.equal(alerts[0]!.contextValue, 'decoy')
    assert.equal(alerts[0]!.keyArn, plain.arn)
    assert.deepEqual(detectCanaries({ operation: 'Encrypt', requestId: 'r', caller: caller(plain), input: { EncryptionContext: { app: 'real' } }, errorCode: undefined }, contexts, NOW), [])
  })

  it('parses key=value, the value possibly holding "="', () => {
    assert.deepEqual(parseCanaryContext('app=honey=pot'), { key: 'app', value: 'honey=pot' })
    assert.deepEqual(parseCanaryContext('app='), { key: 'app', value: '' })
    assert.equal(parseCanaryContext('=x'), undefined)
    assert.equal(parseCanaryContext('novalue'), undefined)
  })
})
