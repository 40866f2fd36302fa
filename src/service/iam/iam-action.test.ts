import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { buildRequest, evaluate, parsePolicy } from '../../policy/index.js'
import { limitBySessionPolicy, requestPrincipal } from '../authorize.js'
import type { Caller } from '../deps.js'
import { IamError, listPage, Params } from './iam-action.js'

const params = (query: string): Params => new Params(new URLSearchParams(query))

function validationMessage(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    assert.ok(e instanceof IamError)
    assert.equal(e.code, 'ValidationError')
    return e.message
  }
  assert.fail('no ValidationError')
}

describe('IAM query parameters', () => {
  it('checks integers against their bounds with AWS wording', () => {
    assert.equal(params('MaxSessionDuration=7200').integer('MaxSessionDuration', 3600, 43200), 7200)
    assert.equal(params('').integer('MaxSessionDuration', 3600, 43200), undefined)
    assert.equal(
      validationMessage(() => params('MaxSessionDuration=1800').integer('MaxSessionDuration', 3600, 43200)),
      "1 validation error detected: Value '1800' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600",
    )
    assert.match(validationMessage(() => params('DurationSeconds=43201').integer('DurationSeconds', 900, 43200)), /Member must have value less than or equal to 43200$/)
    assert.match(validationMessage(() => params('DurationSeconds=1.5').integer('DurationSeconds', 900, 43200)), /Value '1.5' at 'durationSeconds'/)
  })

  it('checks text lengths and patterns', () => {
    assert.equal(params('ExternalId=a:b/c').text('ExternalId', 2, 1224, /^[\w+=,.@:/-]*$/, 'p'), 'a:b/c')
    assert.match(validationMessage(() => params('ExternalId=x').text('ExternalId', 2, 1224)), /Member must have length greater than or equal to 2$/)
    assert.match(validationMessage(() => params('ExternalId=a%20b').text('ExternalId', 2, 1224, /^\S*$/, '[shown]')), /Member must satisfy regular expression pattern: \[shown\]$/)
  })
})

describe('listPage', () => {
  const names = ['a', 'b', 'c', 'd', 'é']
  const page = (query: string) => listPage(params(query), names, (n) => n)

  it('returns everything up to MaxItems (default 100) with no Marker when nothing follows', () => {
    assert.deepEqual(page(''), { items: names, IsTruncated: false })
  })

  it('pages with MaxItems and the Marker it hands out, to the end', () => {
    const seen: string[] = []
    let query = 'MaxItems=2'
    for (let i = 0; i < 10; i++) {
      const p = page(query)
      seen.push(...p.items)
      if (!p.IsTruncated) break
      assert.ok(p.Marker)
      query = `MaxItems=2&Marker=${p.Marker}`
    }
    assert.deepEqual(seen, names)
  })

  it('refuses MaxItems outside 1–1000', () => {
    assert.match(validationMessage(() => page('MaxItems=0')), /at 'maxItems'.*greater than or equal to 1$/)
    assert.match(validationMessage(() => page('MaxItems=1001')), /less than or equal to 1000$/)
  })
})

describe('limitBySessionPolicy', () => {
  const account = '111122223333'
  const sessionArn = `arn:aws:sts::${account}:assumed-role/r/s`
  const caller = (sessionPolicy?: string): Caller => ({
    accountId: account,
    principalArn: sessionArn,
    accessKeyId: 'ASIAEXAMPLE',
    role: { roleName: 'r', roleId: 'AROAEXAMPLE', roleArn: `arn:aws:iam::${account}:role/r`, sessionName: 's', ...(sessionPolicy === undefined ? {} : { sessionPolicy }) },
  })
  const doc = (...statements: object[]): string => JSON.stringify({ Version: '2012-10-17', Statement: statements })
  const keyArn = `arn:aws:kms:us-east-1:${account}:key/1234abcd-12ab-34cd-56ef-1234567890ab`
  const trustAccount = parsePolicy(doc({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'kms:*', Resource: '*' }), { kind: 'key' })
  const namesSession = parsePolicy(doc({ Effect: 'Allow', Principal: { AWS: sessionArn }, Action: 'kms:Decrypt', Resource: '*' }), { kind: 'key' })
  const rolePolicy = parsePolicy(doc({ Effect: 'Allow', Action: 'kms:*', Resource: '*' }), { kind: 'identity' })

  function decide(c: Caller, action: string, keyPolicy = trustAccount) {
    const request = buildRequest({ principal: requestPrincipal(c), action, resource: { arn: keyArn, account }, time: new Date(0), secureTransport: true })
    return limitBySessionPolicy({ partition: 'aws' }, c, request, evaluate(request, { keyPolicy, identityPolicies: [rolePolicy] }), keyPolicy)
  }

  it('leaves a session without a session policy alone', () => {
    assert.equal(decide(caller(), 'kms:Decrypt').decision, 'Allow')
  })

  it('allows only what the session policy allows too; its explicit Deny wins', () => {
    const only = caller(doc({ Effect: 'Allow', Action: 'kms:Encrypt', Resource: '*' }))
    assert.equal(decide(only, 'kms:Encrypt').decision, 'Allow')
    const refused = decide(only, 'kms:Decrypt')
    assert.equal(refused.decision, 'ImplicitDeny')
    assert.equal(refused.cause, 'no-session-policy-allow')
    const denying = caller(doc({ Effect: 'Allow', Action: '*', Resource: '*' }, { Effect: 'Deny', Action: 'kms:Encrypt', Resource: keyArn }))
    assert.equal(decide(denying, 'kms:Encrypt').cause, 'explicit-deny-in-session-policy')
    assert.equal(decide(denying, 'kms:Decrypt').decision, 'Allow')
  })

  it('does not limit a key policy statement that names the session itself', () => {
    const only = caller(doc({ Effect: 'Allow', Action: 'kms:Encrypt', Resource: '*' }))
    assert.equal(decide(only, 'kms:Decrypt', namesSession).decision, 'Allow')
  })
})
