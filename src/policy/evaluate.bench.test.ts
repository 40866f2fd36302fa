/**
 * A micro-benchmark of the evaluator with a realistic key policy (the console's default policy
 * with administrators, users, a grant statement and two conditioned statements), an identity
 * policy and 20 grants. It reports evaluations per second as test diagnostics; the assertion is a
 * loose floor so that a pathological slowdown fails the suite. `POLICY_BENCH_MS` sets the time per case.
 */

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { buildRequest, type RequestFacts } from './context.js'
import { evaluate } from './evaluate.js'
import type { Grant } from './grants.js'
import { parsePolicy } from './policy-document.js'
import { A, ALICE, BASE_FACTS, BOB, KEY, ROLE_ARN, SESSION } from './evaluate.cases.js'

const MS = Number(process.env['POLICY_BENCH_MS'] ?? 300)

const keyPolicy = parsePolicy(
  {
    Version: '2012-10-17',
    Id: 'key-consolepolicy-3',
    Statement: [
      { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:root` }, Action: 'kms:*', Resource: '*' },
      {
        Sid: 'Allow access for Key Administrators', Effect: 'Allow', Principal: { AWS: [`arn:aws:iam::${A}:role/KeyAdmin`, `arn:aws:iam::${A}:user/admin`] },
        Action: ['kms:Create*', 'kms:Describe*', 'kms:Enable*', 'kms:List*', 'kms:Put*', 'kms:Update*', 'kms:Revoke*', 'kms:Disable*', 'kms:Get*', 'kms:Delete*', 'kms:TagResource', 'kms:UntagResource', 'kms:ScheduleKeyDeletion', 'kms:CancelKeyDeletion'],
        Resource: '*',
      },
      {
        Sid: 'Allow use of the key', Effect: 'Allow', Principal: { AWS: [ROLE_ARN, `arn:aws:iam::${A}:user/bob`] },
        Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'], Resource: '*',
        Condition: { StringEquals: { 'kms:EncryptionContext:AppName': 'ExampleApp' }, Bool: { 'aws:SecureTransport': 'true' } },
      },
      {
        Sid: 'Allow attachment of persistent resources', Effect: 'Allow', Principal: { AWS: ROLE_ARN },
        Action: ['kms:CreateGrant', 'kms:ListGrants', 'kms:RevokeGrant'], Resource: '*', Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
      },
      {
        Sid: 'Deny outside the corporate network', Effect: 'Deny', Principal: '*', Action: 'kms:*', Resource: '*',
        Condition: { NotIpAddress: { 'aws:SourceIp': ['203.0.113.0/24', '198.51.100.0/24', '2001:db8::/32'] }, StringNotEqualsIfExists: { 'kms:ViaService': 'ec2.us-east-1.amazonaws.com' } },
      },
      {
        Sid: 'Require an encryption context', Effect: 'Deny', Principal: '*', Action: ['kms:Encrypt', 'kms:GenerateDataKey*'], Resource: '*',
        Condition: { Null: { 'kms:EncryptionContextKeys': 'true' } },
      },
    ],
  },
  { kind: 'key' },
)

const identityPolicy = parsePolicy(
  {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'DenyDeletion', Effect: 'Deny', Action: ['kms:ScheduleKeyDeletion', 'kms:DisableKey'], Resource: '*' },
      {
        Sid: 'UseTeamKeys', Effect: 'Allow', Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey*', 'kms:DescribeKey'],
        Resource: `arn:aws:kms:us-east-1:${A}:key/*`, Condition: { StringEquals: { 'aws:ResourceTag/Owner': '${aws:username}' } },
      },
    ],
  },
  { kind: 'identity', name: 'team-keys' },
)

const grants: Grant[] = Array.from({ length: 20 }, (_, i) => ({
  grantId: `${i}`.padStart(64, 'a'),
  granteePrincipal: i === 19 ? SESSION.arn : `arn:aws:iam::${A}:role/worker-${i}`,
  operations: ['Decrypt', 'Encrypt', 'GenerateDataKey'],
  keyArn: KEY,
  constraints: { encryptionContextSubset: { AppName: 'ExampleApp', Dept: `dept-${i % 4}` } },
}))

function measure(facts: RequestFacts, expected: string): { perSecond: number; decision: string } {
  const run = () => evaluate(buildRequest(facts), { keyPolicy, identityPolicies: [identityPolicy], grants })
  const decision = run().decision
  assert.equal(decision, expected)
  for (let i = 0; i < 2000; i++) run()
  let n = 0
  const start = performance.now()
  let now = start
  while (now - start < MS) {
    for (let i = 0; i < 200; i++) run()
    n += 200
    now = performance.now()
  }
  return { perSecond: Math.round((n * 1000) / (now - start)), decision }
}

describe('evaluate: micro-benchmark (realistic key policy, identity policy, 20 grants)', () => {
  const cases: Array<[string, RequestFacts, string]> = [
    ['Decrypt allowed by identity policy via root trust', { ...BASE_FACTS, principal: ALICE }, 'Allow'],
    ['Decrypt allowed by the key policy (role session)', { ...BASE_FACTS, principal: SESSION }, 'Allow'],
    ['Decrypt allowed by the 20th grant', { ...BASE_FACTS, principal: SESSION, encryptionContext: { AppName: 'ExampleApp', Dept: 'dept-3' }, secureTransport: false }, 'Allow'],
    ['Decrypt denied (no grant, no statement)', { ...BASE_FACTS, principal: BOB, encryptionContext: { AppName: 'Other' } }, 'ImplicitDeny'],
    ['Encrypt denied by a conditioned Deny', { ...BASE_FACTS, principal: ALICE, action: 'kms:Encrypt', sourceIp: '192.0.2.1' }, 'ExplicitDeny'],
  ]
  for (const [name, facts, expected] of cases) {
    it(name, (t) => {
      const { perSecond } = measure(facts, expected)
      t.diagnostic(`${name}: ${perSecond.toLocaleString('en-US')} evaluations/s (buildRequest + evaluate)`)
      assert.ok(perSecond > 5_000, `${perSecond}/s`)
    })
  }
})
