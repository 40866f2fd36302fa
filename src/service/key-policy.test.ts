import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isKmsError } from '../core/errors.js'
import { checkKeyPolicy, defaultKeyPolicy } from './key-policy.js'

const ok = { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*', Resource: '*' }

function code(policy: unknown): string {
  try {
    checkKeyPolicy(typeof policy === 'string' ? policy : JSON.stringify(policy))
    return 'OK'
  } catch (e) {
    assert.ok(isKmsError(e))
    return e.code
  }
}

describe('key policy documents', () => {
  it('accepts the default policy and ordinary statements', () => {
    assert.equal(code(defaultKeyPolicy('aws', '111122223333')), 'OK')
    assert.equal(code({ Version: '2012-10-17', Statement: ok }), 'OK')
    // AWS accepts a statement without Action; it simply never applies.
    assert.equal(code({ Statement: [ok, { ...ok, Action: undefined }] }), 'OK')
    assert.equal(code({ Statement: [ok, { ...ok, Effect: 'Deny', Principal: '*', Action: ['kms:Decrypt'], Condition: { StringEquals: { 'kms:EncryptionContext:a': ['b'] } } }] }), 'OK')
  })

  it('refuses documents that are not policies', () => {
    const M = 'MalformedPolicyDocumentException'
    assert.equal(code('{not json'), M)
    assert.equal(code([]), M)
    assert.equal(code({}), M)
    assert.equal(code({ Statement: [] }), M)
    assert.equal(code({ Statement: ok, Extra: 1 }), M)
    assert.equal(code({ Version: '2020-01-01', Statement: ok }), M)
    assert.equal(code({ Statement: { ...ok, Effect: 'Maybe' } }), M)
    assert.equal(code({ Statement: { ...ok, Principal: undefined } }), M)
    assert.equal(code({ Statement: { ...ok, Principal: { Robot: 'x' } } }), M)
    assert.equal(code({ Statement: { ...ok, NotAction: 'kms:Decrypt' } }), M)
    assert.equal(code({ Statement: { ...ok, Resource: 5 } }), M)
    assert.equal(code({ Statement: { ...ok, Condition: { StringEquals: 'x' } } }), M)
  })

  it('refuses a policy over 32 KB with LimitExceededException', () => {
    assert.equal(code({ Statement: { ...ok, Sid: 'x'.repeat(33000) } }), 'LimitExceededException')
  })
})
