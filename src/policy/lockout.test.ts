import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { isKmsError } from '../core/errors.js'
import { checkLockoutSafety, lockoutDecision, LOCKOUT_MESSAGE } from './lockout.js'
import { parsePolicy } from './policy-document.js'
import { A, ALICE, BOB, RESOURCE, ROOT, SESSION, ROLE_ARN } from './evaluate.cases.js'

const key = (...Statement: unknown[]) => parsePolicy({ Version: '2012-10-17', Statement }, { kind: 'key' })
const iam = (...Statement: unknown[]) => parsePolicy({ Version: '2012-10-17', Statement }, { kind: 'identity' })
const allow = (principal: unknown, more: Record<string, unknown> = {}) => ({ Effect: 'Allow', Principal: principal, Action: 'kms:*', Resource: '*', ...more })
const ROOT_TRUST = allow({ AWS: `arn:aws:iam::${A}:root` })
const lockedOut = (e: unknown): boolean => isKmsError(e, 'MalformedPolicyDocumentException') && (e as Error).message === LOCKOUT_MESSAGE

describe('lockout safety check', () => {
  it('passes the default key policy for the root user', () => {
    checkLockoutSafety({ keyPolicy: key(ROOT_TRUST), principal: ROOT, resource: RESOURCE })
  })

  it('passes the default key policy for a user whose IAM policy allows PutKeyPolicy', () => {
    checkLockoutSafety({ keyPolicy: key(ROOT_TRUST), principal: ALICE, resource: RESOURCE, identityPolicies: [iam({ Effect: 'Allow', Action: 'kms:PutKeyPolicy', Resource: '*' })] })
  })

  it('fails when the new policy does not let the caller update it', () => {
    assert.throws(() => checkLockoutSafety({ keyPolicy: key(allow({ AWS: BOB.arn })), principal: ALICE, resource: RESOURCE }), lockedOut)
    assert.throws(() => checkLockoutSafety({ keyPolicy: key(allow({ AWS: ALICE.arn }, { Action: ['kms:Encrypt', 'kms:Decrypt'] })), principal: ALICE, resource: RESOURCE }), lockedOut)
  })

  it('passes when the policy names the caller for kms:PutKeyPolicy', () => {
    checkLockoutSafety({ keyPolicy: key(allow({ AWS: ALICE.arn }, { Action: 'kms:PutKeyPolicy' })), principal: ALICE, resource: RESOURCE })
    checkLockoutSafety({ keyPolicy: key(allow({ AWS: ROLE_ARN }, { Action: 'kms:Put*' })), principal: SESSION, resource: RESOURCE })
  })

  it('fails when the policy trusts the account but the caller has no IAM permission', () => {
    assert.throws(() => checkLockoutSafety({ keyPolicy: key(ROOT_TRUST), principal: ALICE, resource: RESOURCE }), lockedOut)
  })

  it('fails when the caller\'s IAM policy denies kms:PutKeyPolicy', () => {
    const identityPolicies = [iam({ Effect: 'Allow', Action: 'kms:*', Resource: '*' }, { Effect: 'Deny', Action: 'kms:PutKeyPolicy', Resource: '*' })]
    assert.throws(() => checkLockoutSafety({ keyPolicy: key(allow({ AWS: ALICE.arn })), principal: ALICE, resource: RESOURCE, identityPolicies }), lockedOut)
  })

  it('fails when the key policy itself denies the caller kms:PutKeyPolicy', () => {
    const policy = key(allow({ AWS: ALICE.arn }), { Effect: 'Deny', Principal: { AWS: ALICE.arn }, Action: 'kms:PutKeyPolicy', Resource: '*' })
    assert.throws(() => checkLockoutSafety({ keyPolicy: policy, principal: ALICE, resource: RESOURCE }), lockedOut)
  })

  it('does not count an Allow that depends on request-only conditions (MFA, source IP, time)', () => {
    for (const condition of [
      { Bool: { 'aws:MultiFactorAuthPresent': 'true' } },
      { IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } },
      { DateGreaterThan: { 'aws:CurrentTime': '2000-01-01' } },
      { Null: { 'kms:BypassPolicyLockoutSafetyCheck': 'true' } },
    ]) {
      assert.throws(() => checkLockoutSafety({ keyPolicy: key(allow({ AWS: ALICE.arn }, { Condition: condition })), principal: ALICE, resource: RESOURCE }), lockedOut, JSON.stringify(condition))
    }
  })

  it('honours conditions on principal and key facts', () => {
    const byTag = key(allow('*', { Condition: { StringEquals: { 'aws:PrincipalTag/team': 'blue', 'kms:CallerAccount': A, 'aws:ResourceTag/env': 'prod' } } }))
    checkLockoutSafety({ keyPolicy: byTag, principal: ALICE, resource: RESOURCE })
    assert.throws(() => checkLockoutSafety({ keyPolicy: byTag, principal: BOB, resource: RESOURCE }), lockedOut)
    const byArn = key(allow('*', { Condition: { ArnEquals: { 'aws:PrincipalArn': ROLE_ARN } } }))
    checkLockoutSafety({ keyPolicy: byArn, principal: SESSION, resource: RESOURCE })
  })

  it('ignores a Deny that depends on request-only conditions', () => {
    const policy = key(allow({ AWS: ALICE.arn }), { Effect: 'Deny', Principal: '*', Action: 'kms:*', Resource: '*', Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } })
    checkLockoutSafety({ keyPolicy: policy, principal: ALICE, resource: RESOURCE })
  })

  it('is skipped with BypassPolicyLockoutSafetyCheck', () => {
    checkLockoutSafety({ keyPolicy: key(allow({ AWS: BOB.arn })), principal: ALICE, resource: RESOURCE, bypass: true })
  })

  it('explains its decision', () => {
    const d = lockoutDecision({ keyPolicy: key(allow({ AWS: BOB.arn }), allow({ AWS: ALICE.arn }, { Sid: 'Admin', Action: 'kms:PutKeyPolicy' })), principal: ALICE, resource: RESOURCE })
    assert.equal(d.decision, 'Allow')
    assert.deepEqual(d.decidedBy, [{ kind: 'key-policy', statementIndex: 1, sid: 'Admin', effect: 'Allow' }])
  })

  it('Precondition: The policy to check is a key policy.', () => {
    assert.throws(() => lockoutDecision({ keyPolicy: iam({ Effect: 'Allow', Action: 'kms:*', Resource: '*' }), principal: ALICE, resource: RESOURCE }), TypeError)
  })
})
