/**
 * The evaluator's table of cases: each is a policy set, a request, the decision AWS KMS would
 * make, and one line saying why. `evaluate.test.ts` runs them.
 */

import type { KeyResource, RequestFacts, RequestPrincipal } from './context.js'
import type { Grant } from './grants.js'

/** The key's account. */
export const A = '111122223333'
/** Another account. */
export const B = '444455556666'
/** The key under test. */
export const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab'
/** The key's ARN. */
export const KEY = `arn:aws:kms:us-east-1:${A}:key/${KEY_ID}`
/** A different key in the same account. */
export const OTHER_KEY = `arn:aws:kms:us-east-1:${A}:key/0000aaaa-12ab-34cd-56ef-1234567890ab`

/** An IAM user in account A, with tags. */
export const ALICE: RequestPrincipal = {
  arn: `arn:aws:iam::${A}:user/alice`, account: A, type: 'user', userId: 'AIDAALICE00000000001', username: 'alice',
  tags: { team: 'blue', keyid: KEY_ID, Project: 'Apollo' },
}
/** An IAM user in account A without tags. */
export const BOB: RequestPrincipal = { arn: `arn:aws:iam::${A}:user/bob`, account: A, type: 'user', userId: 'AIDABOB000000000001' }
/** Account A's root user. */
export const ROOT: RequestPrincipal = { arn: `arn:aws:iam::${A}:root`, account: A, type: 'root' }
/** A role in account A, with a path. */
export const ROLE_ARN = `arn:aws:iam::${A}:role/service/App`
/** A session of {@link ROLE_ARN}. */
export const SESSION: RequestPrincipal = {
  arn: `arn:aws:sts::${A}:assumed-role/App/worker-1`, account: A, type: 'assumed-role', roleArn: ROLE_ARN,
  userId: 'AROAAPP0000000000001:worker-1', tags: { team: 'green' },
}
/** An IAM user in account B. */
export const CAROL: RequestPrincipal = { arn: `arn:aws:iam::${B}:user/carol`, account: B, type: 'user', userId: 'AIDACAROL0000000001' }
/** Account B's root user. */
export const ROOT_B: RequestPrincipal = { arn: `arn:aws:iam::${B}:root`, account: B, type: 'root' }

/** The key under test, with tags and aliases. */
export const RESOURCE: KeyResource = {
  arn: KEY, account: A, keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT', keyOrigin: 'AWS_KMS',
  tags: { env: 'prod', Owner: 'alice' }, aliases: ['alias/app', 'alias/app-prod'],
}
/** The request time. */
export const TIME = new Date('2024-06-01T12:00:00Z')
/** {@link TIME} in epoch seconds. */
export const EPOCH = String(TIME.getTime() / 1000) // 1717243200

/** The request every case starts from: alice decrypts with an encryption context, over TLS. */
export const BASE_FACTS: RequestFacts = {
  principal: ALICE,
  action: 'kms:Decrypt',
  resource: RESOURCE,
  time: TIME,
  sourceIp: '203.0.113.7',
  secureTransport: true,
  encryptionContext: { AppName: 'ExampleApp', Dept: 'eng' },
}

/** Changes to {@link BASE_FACTS}; `null` removes a fact. */
export type FactOverrides = { readonly [K in keyof RequestFacts]?: RequestFacts[K] | null }

type Decision = 'Allow' | 'ExplicitDeny' | 'ImplicitDeny'

/** One row of the table. */
export interface EvalCase {
  readonly name: string
  /** Why AWS decides so, in one line. */
  readonly why: string
  readonly keyPolicy: unknown
  readonly identityPolicies?: readonly unknown[]
  readonly grants?: readonly Grant[]
  readonly facts?: FactOverrides
  readonly expect: Decision
  /** The deciders in compact form: `key#1`, `identity#0.2`, `grant:g1`, `root-user`. */
  readonly decidedBy?: readonly string[]
}

type Statement = Record<string, unknown>
const policy = (...Statement: Statement[]): unknown => ({ Version: '2012-10-17', Statement })
const ROOT_TRUST: Statement = { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:root` }, Action: 'kms:*', Resource: '*' }
const DEFAULT_POLICY = policy(ROOT_TRUST)
const allow = (principal: unknown, more: Statement = {}): Statement => ({ Effect: 'Allow', Principal: principal, Action: 'kms:*', Resource: '*', ...more })
const denyAll = (principal: unknown, more: Statement = {}): Statement => ({ Effect: 'Deny', Principal: principal, Action: 'kms:*', Resource: '*', ...more })
const aws = (...arns: string[]): unknown => ({ AWS: arns.length === 1 ? arns[0] : arns })
const iam = (...Statement: Statement[]): unknown => ({ Version: '2012-10-17', Statement })
const iamAllow = (more: Statement = {}): Statement => ({ Effect: 'Allow', Action: 'kms:*', Resource: '*', ...more })
const iamDeny = (more: Statement = {}): Statement => ({ Effect: 'Deny', Action: 'kms:*', Resource: '*', ...more })

type Condition = Record<string, Record<string, unknown>>

/** The caller (alice unless the facts say otherwise) is allowed by the key policy only when `condition` holds. */
function when(name: string, condition: Condition, facts: FactOverrides, expect: 'Allow' | 'ImplicitDeny', why: string): EvalCase {
  const who = facts.principal?.arn ?? ALICE.arn
  return { name, why, keyPolicy: policy(allow(aws(who), { Condition: condition })), facts, expect, decidedBy: expect === 'Allow' ? ['key#0'] : [] }
}

/** Alice is allowed, and a Deny for everyone applies when `condition` holds. */
function denyWhen(name: string, condition: Condition, facts: FactOverrides, expect: 'ExplicitDeny' | 'Allow', why: string): EvalCase {
  return { name, why, keyPolicy: policy(allow(aws(ALICE.arn)), denyAll('*', { Condition: condition })), facts, expect, decidedBy: expect === 'Allow' ? ['key#0'] : ['key#1'] }
}

const grant = (grantId: string, granteePrincipal: string, operations: string[], more: Partial<Grant> = {}): Grant => ({ grantId, granteePrincipal, operations, keyArn: KEY, ...more })
/** A key policy that lets no one but bob in, so only grants can allow alice. */
const BOB_ONLY = policy(allow(aws(BOB.arn)))

const ACCESS_RULES: EvalCase[] = [
  { name: 'default key policy + IAM allow', why: 'the root-trust statement lets IAM policies in the account grant access, and one does', keyPolicy: DEFAULT_POLICY, identityPolicies: [iam(iamAllow())], expect: 'Allow', decidedBy: ['key#0', 'identity#0.0'] },
  { name: 'default key policy, no IAM policy', why: 'trusting the account is not access by itself: an identity policy must allow', keyPolicy: DEFAULT_POLICY, expect: 'ImplicitDeny', decidedBy: ['key#0'] },
  { name: 'IAM allow without root trust', why: '"Without this permission, IAM policies that allow access to the key are ineffective"', keyPolicy: policy(allow(aws(BOB.arn))), identityPolicies: [iam(iamAllow())], expect: 'ImplicitDeny', decidedBy: [] },
  { name: 'key policy names the user', why: 'a key policy that names the caller allows it without any IAM policy', keyPolicy: policy(allow(aws(ALICE.arn))), expect: 'Allow', decidedBy: ['key#0'] },
  { name: 'key policy names the user, IAM denies', why: 'an explicit deny in an identity policy wins over a key policy allow', keyPolicy: policy(allow(aws(ALICE.arn))), identityPolicies: [iam(iamDeny())], expect: 'ExplicitDeny', decidedBy: ['identity#0.0'] },
  { name: 'IAM denies even without root trust', why: 'IAM policies that deny access are effective even when the key policy does not trust the account', keyPolicy: policy(allow('*')), identityPolicies: [iam(iamDeny({ Action: 'kms:Decrypt' }))], expect: 'ExplicitDeny', decidedBy: ['identity#0.0'] },
  { name: 'root user, default policy', why: 'the account principal names the root user directly', keyPolicy: DEFAULT_POLICY, facts: { principal: ROOT }, expect: 'Allow', decidedBy: ['key#0'] },
  { name: 'root user locked out', why: 'even the root user needs the key policy to allow it', keyPolicy: policy(allow(aws(ALICE.arn))), facts: { principal: ROOT }, expect: 'ImplicitDeny' },
  { name: 'role named, session calls', why: 'a role ARN in Principal covers sessions of that role', keyPolicy: policy(allow(aws(ROLE_ARN))), facts: { principal: SESSION }, expect: 'Allow', decidedBy: ['key#0'] },
  { name: 'session named, session calls', why: 'an assumed-role session ARN names exactly that session', keyPolicy: policy(allow(aws(SESSION.arn))), facts: { principal: SESSION }, expect: 'Allow', decidedBy: ['key#0'] },
  { name: 'other session named', why: 'a session ARN does not cover other sessions of the role', keyPolicy: policy(allow(aws(`arn:aws:sts::${A}:assumed-role/App/worker-2`))), facts: { principal: SESSION }, expect: 'ImplicitDeny' },
  { name: 'role ARN without its path', why: 'principal ARNs match exactly; the role lives at /service/', keyPolicy: policy(allow(aws(`arn:aws:iam::${A}:role/App`))), facts: { principal: SESSION }, expect: 'ImplicitDeny' },
  { name: 'session via root trust and role policy', why: "the role's identity policy applies to its sessions through the root trust", keyPolicy: DEFAULT_POLICY, identityPolicies: [iam(iamAllow({ Action: 'kms:Decrypt' }))], facts: { principal: SESSION }, expect: 'Allow', decidedBy: ['key#0', 'identity#0.0'] },
  { name: 'Principal "*"', why: '"*" is every principal, a direct allow in the same account', keyPolicy: policy(allow('*')), expect: 'Allow', decidedBy: ['key#0'] },
  { name: 'Principal {"AWS":"*"}', why: '{"AWS":"*"} is every AWS principal', keyPolicy: policy(allow(aws('*'))), expect: 'Allow', decidedBy: ['key#0'] },
  { name: 'bare account id + IAM', why: 'the bare account id behaves as arn:aws:iam::<id>:root', keyPolicy: policy(allow(aws(A))), identityPolicies: [iam(iamAllow())], expect: 'Allow', decidedBy: ['key#0', 'identity#0.0'] },
  { name: 'bare account id, no IAM', why: 'an account principal only delegates to IAM', keyPolicy: policy(allow(aws(A))), expect: 'ImplicitDeny', decidedBy: ['key#0'] },
  { name: 'key policy names another user', why: 'bob being allowed says nothing about alice', keyPolicy: policy(allow(aws(BOB.arn))), expect: 'ImplicitDeny' },
  { name: 'key policy deny for the user', why: 'explicit deny in the key policy wins over root trust + IAM', keyPolicy: policy(ROOT_TRUST, denyAll(aws(ALICE.arn), { Action: 'kms:Decrypt' })), identityPolicies: [iam(iamAllow())], expect: 'ExplicitDeny', decidedBy: ['key#1'] },
  { name: 'deny naming the account', why: 'a Deny naming an account denies every principal in it', keyPolicy: policy(allow(aws(ALICE.arn)), denyAll(aws(A))), expect: 'ExplicitDeny', decidedBy: ['key#1'] },
  { name: 'deny "*"', why: 'a Deny for "*" covers everyone', keyPolicy: policy(allow(aws(ALICE.arn)), denyAll('*')), expect: 'ExplicitDeny', decidedBy: ['key#1'] },
  { name: 'deny for the role covers its session', why: 'a role ARN in a Deny covers its sessions', keyPolicy: policy(allow('*'), denyAll(aws(ROLE_ARN))), facts: { principal: SESSION }, expect: 'ExplicitDeny', decidedBy: ['key#1'] },
  { name: 'deny for another user', why: "a Deny naming bob does not touch alice", keyPolicy: policy(allow(aws(ALICE.arn)), denyAll(aws(BOB.arn))), expect: 'Allow', decidedBy: ['key#0'] },
  { name: 'deny wins over grant', why: 'grants never override an explicit deny', keyPolicy: policy(allow(aws(BOB.arn)), denyAll(aws(ALICE.arn))), grants: [grant('g1', ALICE.arn, ['Decrypt'])], expect: 'ExplicitDeny', decidedBy: ['key#1'] },
  { name: 'IAM deny wins over grant', why: 'an identity-policy deny also overrides a grant', keyPolicy: BOB_ONLY, identityPolicies: [iam(iamDeny())], grants: [grant('g1', ALICE.arn, ['Decrypt'])], expect: 'ExplicitDeny', decidedBy: ['identity#0.0'] },
  { name: 'cross-account: account trust + IAM', why: 'the key policy trusts account B and carol\'s own IAM policy allows', keyPolicy: policy(ROOT_TRUST, allow(aws(`arn:aws:iam::${B}:root`), { Action: ['kms:Decrypt', 'kms:DescribeKey'] })), identityPolicies: [iam(iamAllow({ Resource: KEY }))], facts: { principal: CAROL }, expect: 'Allow', decidedBy: ['key#1', 'identity#0.0'] },
  { name: 'cross-account: account trust, no IAM', why: 'cross-account access needs the external identity policy too', keyPolicy: policy(ROOT_TRUST, allow(aws(B))), facts: { principal: CAROL }, expect: 'ImplicitDeny', decidedBy: ['key#1'] },
  { name: 'cross-account: user named, no IAM', why: 'naming an external user directly still needs its own account\'s IAM allow', keyPolicy: policy(allow(aws(CAROL.arn))), facts: { principal: CAROL }, expect: 'ImplicitDeny', decidedBy: ['key#0'] },
  { name: 'cross-account: user named + IAM', why: 'both sides allow', keyPolicy: policy(allow(aws(CAROL.arn))), identityPolicies: [iam(iamAllow())], facts: { principal: CAROL }, expect: 'Allow', decidedBy: ['key#0', 'identity#0.0'] },
  { name: 'cross-account: key policy silent', why: 'the external IAM policy alone cannot open a key in another account', keyPolicy: DEFAULT_POLICY, identityPolicies: [iam(iamAllow())], facts: { principal: CAROL }, expect: 'ImplicitDeny', decidedBy: [] },
  { name: 'cross-account: "*" + IAM', why: '"*" covers the external user, whose IAM policy allows', keyPolicy: policy(allow('*')), identityPolicies: [iam(iamAllow())], facts: { principal: CAROL }, expect: 'Allow', decidedBy: ['key#0', 'identity#0.0'] },
  { name: 'cross-account: "*" without IAM', why: '"*" does not replace the external identity policy', keyPolicy: policy(allow('*')), facts: { principal: CAROL }, expect: 'ImplicitDeny', decidedBy: ['key#0'] },
  { name: 'cross-account root', why: 'the external root user is not limited by identity policies', keyPolicy: policy(allow(aws(B))), facts: { principal: ROOT_B }, expect: 'Allow', decidedBy: ['key#0', 'root-user'] },
  { name: 'cross-account: IAM names another key', why: 'the external identity policy must cover this key ARN', keyPolicy: policy(allow(aws(B))), identityPolicies: [iam(iamAllow({ Resource: OTHER_KEY }))], facts: { principal: CAROL }, expect: 'ImplicitDeny', decidedBy: ['key#0'] },
  { name: 'statement without Action', why: 'KMS accepts a statement missing Action but it has no effect', keyPolicy: policy({ Effect: 'Allow', Principal: aws(ALICE.arn), Resource: '*' }), expect: 'ImplicitDeny' },
  { name: 'statement without Resource', why: 'KMS accepts a statement missing Resource but it has no effect', keyPolicy: policy({ Effect: 'Allow', Principal: aws(ALICE.arn), Action: 'kms:*' }), expect: 'ImplicitDeny' },
  { name: 'ineffective Deny', why: 'a Deny without Resource has no effect either', keyPolicy: policy(allow(aws(ALICE.arn)), { Effect: 'Deny', Principal: '*', Action: 'kms:*' }), expect: 'Allow' },
  { name: 'trusts another account only', why: 'trust in account B does not let account A\'s IAM policies in', keyPolicy: policy(allow(aws(B))), identityPolicies: [iam(iamAllow())], expect: 'ImplicitDeny' },
  { name: 'second identity policy allows', why: 'any of the caller\'s identity policies may allow', keyPolicy: DEFAULT_POLICY, identityPolicies: [iam(iamAllow({ Action: 'kms:Encrypt' })), iam(iamAllow({ Action: 'kms:Decrypt' }))], expect: 'Allow', decidedBy: ['key#0', 'identity#1.0'] },
  { name: 'root trust limited to some actions', why: 'the root-trust statement must itself cover the action', keyPolicy: policy({ ...ROOT_TRUST, Action: 'kms:Describe*' }), identityPolicies: [iam(iamAllow())], expect: 'ImplicitDeny' },
  { name: 'IAM allows a different action', why: 'the identity policy must cover the action too', keyPolicy: DEFAULT_POLICY, identityPolicies: [iam(iamAllow({ Action: 'kms:Encrypt' }))], expect: 'ImplicitDeny', decidedBy: ['key#0'] },
]

const NOT_PRINCIPAL: EvalCase[] = [
  { name: 'NotPrincipal deny exempts user + account', why: 'listing the user and its account exempts the user', keyPolicy: policy(allow(aws(ALICE.arn)), { Effect: 'Deny', NotPrincipal: aws(ALICE.arn, `arn:aws:iam::${A}:root`), Action: 'kms:*', Resource: '*' }), expect: 'Allow', decidedBy: ['key#0'] },
  { name: 'NotPrincipal deny lists only the user', why: 'without the account ARN AWS may deny the whole account (IAM, NotPrincipal)', keyPolicy: policy(allow(aws(ALICE.arn)), { Effect: 'Deny', NotPrincipal: aws(ALICE.arn), Action: 'kms:*', Resource: '*' }), expect: 'ExplicitDeny', decidedBy: ['key#1'] },
  { name: 'NotPrincipal deny hits others', why: 'everyone not listed is denied', keyPolicy: policy(allow('*'), { Effect: 'Deny', NotPrincipal: aws(ALICE.arn, A), Action: 'kms:*', Resource: '*' }), facts: { principal: BOB }, expect: 'ExplicitDeny', decidedBy: ['key#1'] },
  { name: 'NotPrincipal deny exempts session, role, account', why: 'a session is exempt when the session, its role and its account are listed', keyPolicy: policy(allow('*'), { Effect: 'Deny', NotPrincipal: aws(SESSION.arn, ROLE_ARN, A), Action: 'kms:*', Resource: '*' }), facts: { principal: SESSION }, expect: 'Allow', decidedBy: ['key#0'] },
  { name: 'NotPrincipal deny lists role + account, not session', why: 'the session itself is not listed, so it is denied', keyPolicy: policy(allow('*'), { Effect: 'Deny', NotPrincipal: aws(ROLE_ARN, A), Action: 'kms:*', Resource: '*' }), facts: { principal: SESSION }, expect: 'ExplicitDeny', decidedBy: ['key#1'] },
  { name: 'NotPrincipal deny exempts root', why: 'the root user is its account', keyPolicy: policy(allow('*'), { Effect: 'Deny', NotPrincipal: aws(A), Action: 'kms:*', Resource: '*' }), facts: { principal: ROOT }, expect: 'Allow' },
  { name: 'NotPrincipal allow, caller not listed', why: 'NotPrincipal with Allow allows everyone not listed', keyPolicy: policy({ Effect: 'Allow', NotPrincipal: aws(BOB.arn), Action: 'kms:*', Resource: '*' }), expect: 'Allow', decidedBy: ['key#0'] },
  { name: 'NotPrincipal allow, caller listed', why: 'the listed principal is excluded', keyPolicy: policy({ Effect: 'Allow', NotPrincipal: aws(BOB.arn), Action: 'kms:*', Resource: '*' }), facts: { principal: BOB }, expect: 'ImplicitDeny' },
  { name: 'NotPrincipal allow, account listed', why: "listing the caller's account excludes the caller", keyPolicy: policy({ Effect: 'Allow', NotPrincipal: aws(A), Action: 'kms:*', Resource: '*' }), expect: 'ImplicitDeny' },
  { name: 'NotPrincipal "*" deny', why: 'NotPrincipal "*" exempts everyone, so the Deny never applies', keyPolicy: policy(allow(aws(ALICE.arn)), { Effect: 'Deny', NotPrincipal: '*', Action: 'kms:*', Resource: '*' }), expect: 'Allow' },
]

const act = (name: string, actions: unknown, action: string, expect: 'Allow' | 'ImplicitDeny', why: string): EvalCase => ({
  name, why, keyPolicy: policy(allow(aws(ALICE.arn), { Action: actions })), facts: { action }, expect,
})

const ACTIONS: EvalCase[] = [
  act('exact action', 'kms:Decrypt', 'kms:Decrypt', 'Allow', 'the action is listed'),
  act('action case in policy', 'KMS:decrypt', 'kms:Decrypt', 'Allow', '"The prefix and the action name are case insensitive"'),
  act('action case in request', 'kms:Decrypt', 'kms:DECRYPT', 'Allow', 'action names compare case-insensitively'),
  act('kms:*', 'kms:*', 'kms:ScheduleKeyDeletion', 'Allow', 'kms:* covers every KMS action'),
  act('"*"', '*', 'kms:PutKeyPolicy', 'Allow', '"*" covers every action'),
  act('kms:ReEncrypt*', 'kms:ReEncrypt*', 'kms:ReEncryptFrom', 'Allow', 'a trailing * matches any suffix'),
  act('kms:ReEncrypt* vs Decrypt', 'kms:ReEncrypt*', 'kms:Decrypt', 'ImplicitDeny', 'the prefix does not match'),
  act('kms:Generate*', 'kms:Generate*', 'kms:GenerateDataKeyPairWithoutPlaintext', 'Allow', '* matches a long suffix'),
  act('kms:Encryp?', 'kms:Encryp?', 'kms:Encrypt', 'Allow', '? matches one character'),
  act('kms:De?rypt', 'kms:De?rypt', 'kms:Decrypt', 'Allow', '? in the middle'),
  act('kms:Encryp? vs Encrypts', 'kms:Encryp?', 'kms:Encrypts', 'ImplicitDeny', '? matches exactly one character'),
  act('kms:Describe* vs Decrypt', 'kms:Describe*', 'kms:Decrypt', 'ImplicitDeny', 'different prefix'),
  act('kms:*Key', 'kms:*Key', 'kms:DescribeKey', 'Allow', 'a leading * matches any prefix'),
  act('action list', ['kms:Encrypt', 'kms:Decrypt'], 'kms:Decrypt', 'Allow', 'any action in the list may match'),
  act('another service', 'ec2:*', 'kms:Decrypt', 'ImplicitDeny', 'ec2:* does not cover KMS'),
  { name: 'NotAction allow', why: 'NotAction allows every action except those listed', keyPolicy: policy({ Effect: 'Allow', Principal: aws(ALICE.arn), NotAction: 'kms:Decrypt', Resource: '*' }), facts: { action: 'kms:Encrypt' }, expect: 'Allow' },
  { name: 'NotAction allow, listed action', why: 'the listed action is excluded', keyPolicy: policy({ Effect: 'Allow', Principal: aws(ALICE.arn), NotAction: 'kms:Decrypt', Resource: '*' }), expect: 'ImplicitDeny' },
  { name: 'NotAction deny', why: 'Deny with NotAction denies everything but the listed actions', keyPolicy: policy(allow(aws(ALICE.arn)), { Effect: 'Deny', Principal: '*', NotAction: ['kms:Encrypt', 'kms:Describe*'], Resource: '*' }), expect: 'ExplicitDeny', decidedBy: ['key#1'] },
  { name: 'NotAction deny, excepted action', why: 'kms:DescribeKey matches the excepted kms:Describe*', keyPolicy: policy(allow(aws(ALICE.arn)), { Effect: 'Deny', Principal: '*', NotAction: ['kms:Encrypt', 'kms:Describe*'], Resource: '*' }), facts: { action: 'kms:DescribeKey' }, expect: 'Allow' },
]

const res = (name: string, resource: unknown, expect: 'Allow' | 'ImplicitDeny', why: string, more: Partial<EvalCase> = {}): EvalCase => ({
  name, why, keyPolicy: policy(allow(aws(ALICE.arn), { Resource: resource })), expect, ...more,
})

const RESOURCES: EvalCase[] = [
  res('Resource "*"', '*', 'Allow', 'in a key policy "*" means this key'),
  res('Resource = key ARN', KEY, 'Allow', 'the exact key ARN'),
  res('Resource region wildcard', `arn:aws:kms:*:${A}:key/*`, 'Allow', 'wildcards within ARN components'),
  res('Resource other region', `arn:aws:kms:us-west-2:${A}:key/*`, 'ImplicitDeny', 'the region component differs'),
  res('Resource key id prefix', `arn:aws:kms:us-east-1:${A}:key/1234*`, 'Allow', '* in the resource part'),
  res('Resource ? wildcard', `arn:aws:kms:us-east-?:${A}:key/${KEY_ID}`, 'Allow', '? matches one character of the region'),
  res('Resource aliases only', `arn:aws:kms:us-east-1:${A}:alias/*`, 'ImplicitDeny', 'an alias ARN pattern does not cover the key'),
  res('Resource too few components', 'arn:aws:kms:*:key/*', 'ImplicitDeny', 'a wildcard never spans colons, so a short ARN matches nothing'),
  res('Resource is case-sensitive', `arn:aws:KMS:us-east-1:${A}:key/${KEY_ID}`, 'ImplicitDeny', 'ARN matching is case-sensitive'),
  res('Resource list', [OTHER_KEY, KEY], 'Allow', 'any listed resource may match'),
  res('Resource with a PrincipalTag variable', `arn:aws:kms:us-east-1:${A}:key/\${aws:PrincipalTag/keyid}`, 'Allow', "alice's keyid tag names this key"),
  res('Resource variable for another principal', `arn:aws:kms:us-east-1:${A}:key/\${aws:PrincipalTag/keyid}`, 'ImplicitDeny', 'bob has no keyid tag, so the variable has no value and nothing matches', { keyPolicy: policy(allow(aws(BOB.arn), { Resource: `arn:aws:kms:us-east-1:${A}:key/\${aws:PrincipalTag/keyid}` })), facts: { principal: BOB } }),
  res('Resource variable with default', `arn:aws:kms:us-east-1:${A}:key/\${aws:PrincipalTag/nokey, '${KEY_ID}'}`, 'Allow', 'the default value stands in for a missing variable'),
  res('Resource variable in old Version', `arn:aws:kms:us-east-1:${A}:key/\${aws:PrincipalTag/keyid}`, 'ImplicitDeny', 'without Version 2012-10-17 ${...} is literal text', { keyPolicy: { Version: '2008-10-17', Statement: [allow(aws(ALICE.arn), { Resource: `arn:aws:kms:us-east-1:${A}:key/\${aws:PrincipalTag/keyid}` })] } }),
  { name: 'NotResource other key', why: 'NotResource covers every resource not listed', keyPolicy: policy({ Effect: 'Allow', Principal: aws(ALICE.arn), Action: 'kms:*', NotResource: OTHER_KEY }), expect: 'Allow' },
  { name: 'NotResource this key', why: 'the listed key is excluded', keyPolicy: policy({ Effect: 'Allow', Principal: aws(ALICE.arn), Action: 'kms:*', NotResource: KEY }), expect: 'ImplicitDeny' },
  { name: 'identity policy for another key', why: 'the identity statement must name this key', keyPolicy: DEFAULT_POLICY, identityPolicies: [iam(iamAllow({ Resource: OTHER_KEY }))], expect: 'ImplicitDeny' },
  { name: 'identity policy with username variable', why: '${aws:username} expands in an identity policy Resource', keyPolicy: DEFAULT_POLICY, identityPolicies: [iam(iamAllow({ Resource: `arn:aws:kms:us-east-1:${A}:key/\${aws:username}*` }))], facts: { resource: { ...RESOURCE, arn: `arn:aws:kms:us-east-1:${A}:key/alice-1` } }, expect: 'Allow' },
]

const STRING: EvalCase[] = [
  when('StringEquals match', { StringEquals: { 'kms:EncryptionContext:AppName': 'ExampleApp' } }, {}, 'Allow', 'the context value equals the policy value'),
  when('StringEquals mismatch', { StringEquals: { 'kms:EncryptionContext:AppName': 'Other' } }, {}, 'ImplicitDeny', 'different value'),
  when('StringEquals is case-sensitive', { StringEquals: { 'kms:EncryptionContext:AppName': 'exampleapp' } }, {}, 'ImplicitDeny', 'values compare case-sensitively'),
  when('StringEquals missing key', { StringEquals: { 'kms:EncryptionContext:Nope': 'x' } }, {}, 'ImplicitDeny', 'a key missing from the request makes a positive operator false'),
  when('StringEquals any of several values', { StringEquals: { 'kms:EncryptionContext:Dept': ['ops', 'eng'] } }, {}, 'Allow', 'values of one key are ORed'),
  when('StringEquals two keys', { StringEquals: { 'kms:EncryptionContext:Dept': 'eng', 'kms:EncryptionContext:AppName': 'Other' } }, {}, 'ImplicitDeny', 'keys in one block are ANDed'),
  when('two operators', { StringEquals: { 'kms:EncryptionContext:Dept': 'eng' }, StringLike: { 'kms:EncryptionContext:AppName': 'Example*' } }, {}, 'Allow', 'operators are ANDed and both hold'),
  when('two operators, one fails', { StringEquals: { 'kms:EncryptionContext:Dept': 'eng' }, StringLike: { 'kms:EncryptionContext:AppName': 'Other*' } }, {}, 'ImplicitDeny', 'operators are ANDed'),
  when('StringNotEquals, different value', { StringNotEquals: { 'kms:EncryptionContext:Dept': 'ops' } }, {}, 'Allow', 'the value is not the listed one'),
  when('StringNotEquals, same value', { StringNotEquals: { 'kms:EncryptionContext:Dept': ['ops', 'eng'] } }, {}, 'ImplicitDeny', 'a negated operator must match none of the values'),
  when('StringNotEquals, missing key', { StringNotEquals: { 'kms:EncryptionContext:Nope': 'x' } }, {}, 'Allow', 'a negated operator is true when the key is missing'),
  when('StringEqualsIgnoreCase', { StringEqualsIgnoreCase: { 'kms:EncryptionContext:AppName': 'EXAMPLEAPP' } }, {}, 'Allow', 'IgnoreCase folds case'),
  when('StringEqualsIgnoreCase mismatch', { StringEqualsIgnoreCase: { 'kms:EncryptionContext:AppName': 'example' } }, {}, 'ImplicitDeny', 'still a whole-string comparison'),
  when('StringNotEqualsIgnoreCase, same value other case', { StringNotEqualsIgnoreCase: { 'kms:EncryptionContext:AppName': 'exampleAPP' } }, {}, 'ImplicitDeny', 'equal ignoring case, so "not equal" is false'),
  when('StringNotEqualsIgnoreCase, different', { StringNotEqualsIgnoreCase: { 'kms:EncryptionContext:AppName': 'Other' } }, {}, 'Allow', 'different even ignoring case'),
  when('StringLike *', { StringLike: { 'kms:EncryptionContext:AppName': 'Ex*App' } }, {}, 'Allow', '* matches any run of characters'),
  when('StringLike ?', { StringLike: { 'kms:EncryptionContext:Dept': 'e?g' } }, {}, 'Allow', '? matches one character'),
  when('StringLike is case-sensitive', { StringLike: { 'kms:EncryptionContext:AppName': 'example*' } }, {}, 'ImplicitDeny', 'StringLike is case-sensitive'),
  when('StringLike without wildcard', { StringLike: { 'kms:EncryptionContext:AppName': 'Example' } }, {}, 'ImplicitDeny', 'partial matches need a wildcard'),
  when('StringEquals treats * literally', { StringEquals: { 'kms:EncryptionContext:AppName': 'Ex*' } }, {}, 'ImplicitDeny', 'only the Like operators have wildcards'),
  when('StringNotLike, no match', { StringNotLike: { 'kms:EncryptionContext:AppName': 'Test*' } }, {}, 'Allow', 'the value matches no pattern'),
  when('StringNotLike, match', { StringNotLike: { 'kms:EncryptionContext:AppName': ['Test*', '*App'] } }, {}, 'ImplicitDeny', 'the value matches one pattern'),
  when('StringNotLike, missing key', { StringNotLike: { 'kms:EncryptionContext:Nope': '*' } }, {}, 'Allow', 'negated operators hold for a missing key'),
  when('StringLike many stars', { StringLike: { 'kms:EncryptionContext:AppName': '*a*a*a*a*a*a*a*a*a*a*b' } }, { encryptionContext: { AppName: 'a'.repeat(4000) } }, 'ImplicitDeny', 'no match, and decided without exponential backtracking'),
  when('operator names are case-insensitive', { stringequals: { 'kms:EncryptionContext:Dept': 'eng' } }, {}, 'Allow', 'operators are read case-insensitively'),
]

const NUMERIC: EvalCase[] = [
  when('NumericEquals', { NumericEquals: { 'aws:EpochTime': EPOCH } }, {}, 'Allow', 'aws:EpochTime is a number of seconds'),
  when('NumericEquals mismatch', { NumericEquals: { 'aws:EpochTime': '1' } }, {}, 'ImplicitDeny', 'different number'),
  when('NumericEquals unquoted number', { NumericEquals: { 'aws:EpochTime': Number(EPOCH) } }, {}, 'Allow', 'JSON numbers are accepted as values'),
  when('NumericNotEquals', { NumericNotEquals: { 'aws:EpochTime': '1' } }, {}, 'Allow', 'not equal'),
  when('NumericNotEquals equal', { NumericNotEquals: { 'aws:EpochTime': EPOCH } }, {}, 'ImplicitDeny', 'equal, so not-equals is false'),
  when('NumericLessThan', { NumericLessThan: { 'aws:EpochTime': '1800000000' } }, {}, 'Allow', 'earlier epoch'),
  when('NumericLessThan boundary', { NumericLessThan: { 'aws:EpochTime': EPOCH } }, {}, 'ImplicitDeny', 'strictly less'),
  when('NumericLessThanEquals boundary', { NumericLessThanEquals: { 'aws:EpochTime': EPOCH } }, {}, 'Allow', 'less or equal'),
  when('NumericGreaterThan', { NumericGreaterThan: { 'aws:EpochTime': '1700000000' } }, {}, 'Allow', 'later epoch'),
  when('NumericGreaterThan boundary', { NumericGreaterThan: { 'aws:EpochTime': EPOCH } }, {}, 'ImplicitDeny', 'strictly greater'),
  when('NumericGreaterThanEquals boundary', { NumericGreaterThanEquals: { 'aws:EpochTime': EPOCH } }, {}, 'Allow', 'greater or equal'),
  when('NumericLessThan decimal', { NumericLessThan: { 'test:Ratio': '0.75' } }, { extra: { 'test:Ratio': '0.5' } }, 'Allow', 'decimals compare numerically'),
  when('NumericEquals non-numeric request value', { NumericEquals: { 'test:Ratio': '1' } }, { extra: { 'test:Ratio': 'one' } }, 'ImplicitDeny', 'a request value that is not a number matches nothing'),
  when('NumericLessThan missing key', { NumericLessThan: { 'test:Ratio': '1' } }, {}, 'ImplicitDeny', 'missing key'),
]

const DATE: EvalCase[] = [
  when('DateEquals ISO', { DateEquals: { 'aws:CurrentTime': '2024-06-01T12:00:00Z' } }, {}, 'Allow', 'same instant'),
  when('DateEquals other zone', { DateEquals: { 'aws:CurrentTime': '2024-06-01T14:00:00+02:00' } }, {}, 'Allow', 'the same instant written with an offset'),
  when('DateEquals epoch', { DateEquals: { 'aws:CurrentTime': EPOCH } }, {}, 'Allow', 'epoch seconds are accepted as dates'),
  when('DateNotEquals', { DateNotEquals: { 'aws:CurrentTime': '2024-01-01' } }, {}, 'Allow', 'different instant'),
  when('DateNotEquals same', { DateNotEquals: { 'aws:CurrentTime': '2024-06-01T12:00Z' } }, {}, 'ImplicitDeny', 'same instant (minutes precision form)'),
  when('DateLessThan', { DateLessThan: { 'aws:CurrentTime': '2025-01-01T00:00:00Z' } }, {}, 'Allow', 'before the deadline'),
  when('DateLessThan past', { DateLessThan: { 'aws:CurrentTime': '2024-06-01' } }, {}, 'ImplicitDeny', 'the date alone means midnight UTC, which has passed'),
  when('DateLessThanEquals boundary', { DateLessThanEquals: { 'aws:CurrentTime': '2024-06-01T12:00:00Z' } }, {}, 'Allow', 'equal counts'),
  when('DateGreaterThan', { DateGreaterThan: { 'aws:CurrentTime': '2024' } }, {}, 'Allow', 'a year alone is allowed by the W3C profile'),
  when('DateGreaterThan future', { DateGreaterThan: { 'aws:CurrentTime': '2024-06-01T12:00:00.001Z' } }, {}, 'ImplicitDeny', 'fractions of a second count'),
  when('DateGreaterThanEquals boundary', { DateGreaterThanEquals: { 'aws:CurrentTime': '2024-06-01T12:00:00Z' } }, {}, 'Allow', 'equal counts'),
  when('DateLessThan with aws:EpochTime', { DateLessThan: { 'aws:EpochTime': '2030-01-01T00:00:00Z' } }, {}, 'Allow', 'aws:EpochTime works with date operators'),
  when('DateGreaterThan epoch value', { DateGreaterThan: { 'aws:CurrentTime': '1717243199' } }, {}, 'Allow', 'one second earlier, as epoch'),
  when('DateLessThan missing key', { DateLessThan: { 'aws:TokenIssueTime': '2030-01-01' } }, {}, 'ImplicitDeny', 'aws:TokenIssueTime is absent for long-term credentials'),
  denyWhen('DateGreaterThan deny after expiry', { DateGreaterThan: { 'aws:CurrentTime': '2024-05-31T23:59:59Z' } }, {}, 'ExplicitDeny', 'the Deny applies after the expiry date'),
]

const BOOL: EvalCase[] = [
  when('Bool SecureTransport true', { Bool: { 'aws:SecureTransport': 'true' } }, {}, 'Allow', 'the request came over TLS'),
  when('Bool unquoted boolean', { Bool: { 'aws:SecureTransport': true } }, {}, 'Allow', 'JSON booleans are accepted'),
  when('Bool case-insensitive value', { Bool: { 'aws:SecureTransport': 'TRUE' } }, {}, 'Allow', 'true/false compare case-insensitively'),
  when('Bool false', { Bool: { 'aws:SecureTransport': 'false' } }, {}, 'ImplicitDeny', 'the request was secure'),
  denyWhen('Bool deny plain HTTP', { Bool: { 'aws:SecureTransport': 'false' } }, { secureTransport: false }, 'ExplicitDeny', 'the classic deny-unless-TLS statement'),
  denyWhen('Bool deny, key missing', { Bool: { 'aws:SecureTransport': 'false' } }, { secureTransport: null }, 'Allow', 'Bool on a missing key is false'),
  denyWhen('BoolIfExists deny, key missing', { BoolIfExists: { 'aws:SecureTransport': 'false' } }, { secureTransport: null }, 'ExplicitDeny', '...IfExists is true when the key is missing'),
  when('Bool with variable', { Bool: { 'aws:SecureTransport': '${aws:PrincipalTag/tls}' } }, { principal: { ...ALICE, tags: { tls: 'true' } } }, 'Allow', 'policy variables work with Bool'),
]

const BINARY: EvalCase[] = [
  when('BinaryEquals', { BinaryEquals: { 'test:Blob': 'QmluYXJ5VmFsdWVJbkJhc2U2NA==' } }, { extra: { 'test:Blob': 'QmluYXJ5VmFsdWVJbkJhc2U2NA==' } }, 'Allow', 'same bytes'),
  when('BinaryEquals other bytes', { BinaryEquals: { 'test:Blob': 'QmluYXJ5VmFsdWVJbkJhc2U2NA==' } }, { extra: { 'test:Blob': 'AAEC' } }, 'ImplicitDeny', 'different bytes'),
  when('BinaryEquals missing', { BinaryEquals: { 'test:Blob': 'AAEC' } }, {}, 'ImplicitDeny', 'missing key'),
  when('BinaryEquals invalid request base64', { BinaryEquals: { 'test:Blob': 'AAEC' } }, { extra: { 'test:Blob': '**' } }, 'ImplicitDeny', 'a request value that is not base64 matches nothing'),
]

const IP: EvalCase[] = [
  when('IpAddress CIDR', { IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } }, {}, 'Allow', 'the caller is inside the range'),
  when('IpAddress outside', { IpAddress: { 'aws:SourceIp': '198.51.100.0/24' } }, {}, 'ImplicitDeny', 'outside the range'),
  when('IpAddress bare address', { IpAddress: { 'aws:SourceIp': '203.0.113.7' } }, {}, 'Allow', 'an address without prefix is a /32'),
  when('IpAddress bare other address', { IpAddress: { 'aws:SourceIp': '203.0.113.8' } }, {}, 'ImplicitDeny', '/32 is one address'),
  when('IpAddress /0', { IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } }, {}, 'Allow', 'every IPv4 address'),
  when('IpAddress list', { IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '203.0.113.0/28'] } }, {}, 'Allow', 'any range may match'),
  when('IpAddress IPv6', { IpAddress: { 'aws:SourceIp': '2001:DB8:1234:5678::/64' } }, { sourceIp: '2001:db8:1234:5678::1' }, 'Allow', 'IPv6 CIDR, case-insensitive hex'),
  when('IpAddress IPv6 outside', { IpAddress: { 'aws:SourceIp': '2001:DB8:1234:5678::/64' } }, { sourceIp: '2001:db8:1234:5679::1' }, 'ImplicitDeny', 'outside the /64'),
  when('IpAddress v4 range, v6 caller', { IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } }, { sourceIp: '2001:db8::1' }, 'ImplicitDeny', 'an IPv4 range never holds an IPv6 address'),
  when('IpAddress IPv4-mapped caller', { IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } }, { sourceIp: '::ffff:203.0.113.7' }, 'Allow', 'the context builder reports ::ffff:a.b.c.d as IPv4'),
  when('NotIpAddress outside', { NotIpAddress: { 'aws:SourceIp': '198.51.100.0/24' } }, {}, 'Allow', 'not in the excluded range'),
  when('NotIpAddress inside', { NotIpAddress: { 'aws:SourceIp': ['198.51.100.0/24', '203.0.113.0/24'] } }, {}, 'ImplicitDeny', 'inside one excluded range'),
  denyWhen('NotIpAddress deny, missing key', { NotIpAddress: { 'aws:SourceIp': '203.0.113.0/24' } }, { sourceIp: null }, 'ExplicitDeny', 'negated operators hold when the key is missing'),
  when('IpAddress missing key', { IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } }, { sourceIp: null }, 'ImplicitDeny', 'missing key'),
]

const ARN: EvalCase[] = [
  when('ArnEquals principal', { ArnEquals: { 'aws:PrincipalArn': ALICE.arn } }, {}, 'Allow', 'aws:PrincipalArn is the user ARN'),
  when('ArnLike role pattern', { ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::*:role/service/*` } }, { principal: SESSION }, 'Allow', "for a session aws:PrincipalArn is the role's ARN"),
  when('ArnLike session pattern', { ArnLike: { 'aws:PrincipalArn': `arn:aws:sts::${A}:assumed-role/App/*` } }, { principal: SESSION }, 'ImplicitDeny', 'aws:PrincipalArn is not the session ARN'),
  when('ArnEquals behaves as ArnLike', { ArnEquals: { 'aws:PrincipalArn': 'arn:aws:iam::*:user/al?ce' } }, {}, 'Allow', 'ArnEquals and ArnLike behave identically'),
  when('ArnLike wildcard cannot span colons', { ArnLike: { 'aws:PrincipalArn': 'arn:aws:*:user/alice' } }, {}, 'ImplicitDeny', 'each of the six components is matched separately'),
  when('StringLike may span colons', { StringLike: { 'aws:PrincipalArn': 'arn:aws:*:user/alice' } }, {}, 'Allow', 'the same pattern as a string spans colons'),
  when('ArnLike is case-sensitive', { ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${A}:user/Alice` } }, {}, 'ImplicitDeny', 'ARN comparison is case-sensitive'),
  when('ArnNotEquals', { ArnNotEquals: { 'aws:PrincipalArn': BOB.arn } }, {}, 'Allow', 'not bob'),
  when('ArnNotLike match', { ArnNotLike: { 'aws:PrincipalArn': `arn:aws:iam::${A}:user/*` } }, {}, 'ImplicitDeny', 'alice matches the excluded pattern'),
  when('ArnNotLike missing', { ArnNotLike: { 'kms:GranteePrincipal': '*' } }, {}, 'Allow', 'negated ARN operators hold when the key is missing'),
  when('ArnLike with variable', { ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${A}:user/\${aws:username}` } }, {}, 'Allow', 'policy variables work in ARN operators'),
  when('ArnLike non-ARN request value', { ArnLike: { 'test:Thing': 'arn:*:*:*:*:*' } }, { extra: { 'test:Thing': 'not-an-arn' } }, 'ImplicitDeny', 'a value that is not an ARN matches no ARN pattern'),
]

const NULL_AND_IFEXISTS: EvalCase[] = [
  when('Null false: context required', { Null: { 'kms:EncryptionContextKeys': 'false' } }, {}, 'Allow', 'the request has an encryption context'),
  when('Null false, no context', { Null: { 'kms:EncryptionContextKeys': false } }, { encryptionContext: null }, 'ImplicitDeny', 'no encryption context, so the key is null'),
  when('Null false, empty context', { Null: { 'kms:EncryptionContextKeys': 'false' } }, { encryptionContext: {} }, 'ImplicitDeny', 'an empty context has no keys'),
  when('Null true', { Null: { 'aws:username': 'true' } }, { principal: SESSION }, 'Allow', 'role sessions have no aws:username'),
  when('Null true, key present', { Null: { 'aws:username': 'true' } }, {}, 'ImplicitDeny', 'alice has a username'),
  when('Null true for bypass flag', { Null: { 'kms:BypassPolicyLockoutSafetyCheck': true } }, {}, 'Allow', 'the KMS example: allow only when the request has no bypass parameter'),
  when('StringEqualsIfExists, missing', { StringEqualsIfExists: { 'kms:ViaService': 'ec2.us-east-1.amazonaws.com' } }, {}, 'Allow', '...IfExists is true when the key is missing'),
  when('StringEqualsIfExists, mismatch', { StringEqualsIfExists: { 'kms:ViaService': 'ec2.us-east-1.amazonaws.com' } }, { viaService: 's3.us-east-1.amazonaws.com' }, 'ImplicitDeny', 'present keys are checked'),
  when('StringLikeIfExists, match', { StringLikeIfExists: { 'kms:ViaService': '*.us-east-1.amazonaws.com' } }, { viaService: 's3.us-east-1.amazonaws.com' }, 'Allow', 'present and matching'),
  denyWhen('StringNotEqualsIfExists deny, missing', { StringNotEqualsIfExists: { 'aws:ResourceTag/team': 'blue' } }, {}, 'ExplicitDeny', '"the request is still denied even if the tag is missing"'),
  when('NumericLessThanIfExists, missing', { NumericLessThanIfExists: { 'test:Count': '5' } }, {}, 'Allow', 'IfExists works on every family'),
  when('DateLessThanIfExists, present', { DateLessThanIfExists: { 'aws:CurrentTime': '2020-01-01' } }, {}, 'ImplicitDeny', 'present and too late'),
  when('IpAddressIfExists, missing', { IpAddressIfExists: { 'aws:SourceIp': '10.0.0.0/8' } }, { sourceIp: null }, 'Allow', 'missing key'),
  when('ArnLikeIfExists, missing', { ArnLikeIfExists: { 'kms:RetiringPrincipal': `arn:aws:iam::${A}:*` } }, {}, 'Allow', 'missing key'),
]

const SETS: EvalCase[] = [
  when('ForAllValues subset', { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['AppName', 'Dept', 'Extra'] } }, {}, 'Allow', 'every request key is in the list'),
  when('ForAllValues, one key not listed', { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['AppName'] } }, {}, 'ImplicitDeny', 'Dept is not in the list'),
  when('ForAllValues, missing key', { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['AppName'] } }, { encryptionContext: null }, 'Allow', 'ForAllValues is true when the key is missing (fails open in an Allow)'),
  when('ForAllValues, empty set', { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['AppName'] } }, { encryptionContext: {} }, 'Allow', 'ForAllValues is true for an empty set'),
  when('ForAllValues + Null guard', { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['AppName'] }, Null: { 'kms:EncryptionContextKeys': 'false' } }, { encryptionContext: null }, 'ImplicitDeny', 'the Null condition closes the missing-key gap'),
  when('ForAnyValue match', { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': 'alias/app' } }, {}, 'Allow', 'one alias of the key matches'),
  when('ForAnyValue no match', { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': 'alias/other' } }, {}, 'ImplicitDeny', 'no alias matches'),
  when('ForAnyValue missing key', { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': 'alias/app' } }, { resource: { ...RESOURCE, aliases: [] } }, 'ImplicitDeny', 'ForAnyValue is false when the key is missing'),
  when('ForAnyValue:StringLike', { 'ForAnyValue:StringLike': { 'kms:ResourceAliases': 'alias/app-*' } }, {}, 'Allow', 'wildcards with a set operator'),
  when('ForAllValues:StringLike', { 'ForAllValues:StringLike': { 'kms:ResourceAliases': 'alias/app*' } }, {}, 'Allow', 'both aliases start with alias/app'),
  when('ForAnyValue:StringNotEquals', { 'ForAnyValue:StringNotEquals': { 'kms:EncryptionContextKeys': 'AppName' } }, {}, 'Allow', 'Dept is a key that is not AppName'),
  when('ForAllValues:StringNotEquals', { 'ForAllValues:StringNotEquals': { 'kms:EncryptionContextKeys': ['Secret', 'Dept'] } }, {}, 'ImplicitDeny', 'Dept is one of the forbidden keys'),
  when('ForAllValues:StringNotLike', { 'ForAllValues:StringNotLike': { 'aws:TagKeys': 'aws:*' } }, { action: 'kms:TagResource', requestTags: { env: 'dev', team: 'x' } }, 'Allow', 'no requested tag key starts with aws:'),
  denyWhen('ForAnyValue deny on tag keys', { 'ForAnyValue:StringLike': { 'aws:TagKeys': 'Owner*' } }, { action: 'kms:TagResource', requestTags: { OwnerId: '1' } }, 'ExplicitDeny', 'one requested tag key matches'),
  denyWhen('ForAnyValue deny, no tags', { 'ForAnyValue:StringLike': { 'aws:TagKeys': 'Owner*' } }, { action: 'kms:TagResource' }, 'Allow', 'ForAnyValue is false when the key is missing, so the Deny does not apply'),
  when('set operator on a single-valued key', { 'ForAnyValue:StringEquals': { 'kms:EncryptionContext:Dept': 'eng' } }, {}, 'Allow', 'a single value is a set of one'),
  when('plain operator on a multi-valued key', { StringEquals: { 'kms:EncryptionContextKeys': 'AppName' } }, {}, 'Allow', 'the KMS example: one of the keys is AppName'),
  when('plain negated operator on a multi-valued key', { StringNotEquals: { 'kms:EncryptionContextKeys': 'Dept' } }, {}, 'ImplicitDeny', 'a negated operator needs every value to differ'),
  when('ForAllValues:StringEqualsIfExists, missing', { 'ForAllValues:StringEqualsIfExists': { 'kms:GrantOperations': 'Decrypt' } }, {}, 'Allow', 'set operator and IfExists combined'),
]

const VARIABLES: EvalCase[] = [
  when('${aws:username} in a value', { StringEquals: { 'kms:EncryptionContext:Owner': '${aws:username}' } }, { encryptionContext: { Owner: 'alice' } }, 'Allow', 'the variable expands to alice'),
  when('${aws:username} mismatch', { StringEquals: { 'kms:EncryptionContext:Owner': '${aws:username}' } }, { encryptionContext: { Owner: 'bob' } }, 'ImplicitDeny', 'expands to alice, not bob'),
  when('${aws:PrincipalTag/team}', { StringEquals: { 'aws:ResourceTag/team': '${aws:PrincipalTag/team}' } }, { resource: { ...RESOURCE, tags: { team: 'blue' } } }, 'Allow', 'principal and resource tags agree'),
  when('variable key name is case-insensitive', { StringEquals: { 'kms:EncryptionContext:Owner': '${AWS:UserName}' } }, { encryptionContext: { Owner: 'alice' } }, 'Allow', 'key names in variables are case-insensitive'),
  when('variable with default', { StringEquals: { 'kms:EncryptionContext:Owner': "${aws:username, 'service'}" } }, { principal: SESSION, encryptionContext: { Owner: 'service' } }, 'Allow', 'a session has no username, so the default applies'),
  when('default with an escaped quote', { StringEquals: { 'kms:EncryptionContext:Owner': "${aws:username, 'o''neil'}" } }, { principal: SESSION, encryptionContext: { Owner: "o'neil" } }, 'Allow', "'' in a default is one quote"),
  when('unresolved variable, positive', { StringEquals: { 'kms:EncryptionContext:Owner': '${aws:username}' } }, { principal: SESSION, encryptionContext: { Owner: '' } }, 'ImplicitDeny', 'a variable without a value matches nothing'),
  when('unresolved variable, negated', { StringNotEquals: { 'kms:EncryptionContext:Owner': '${aws:username}' } }, { principal: SESSION, encryptionContext: { Owner: 'x' } }, 'ImplicitDeny', '"any attempt to match it fails": the statement does not apply'),
  when('unresolved among resolved values', { StringEquals: { 'kms:EncryptionContext:Owner': ['${aws:username}', 'svc'] } }, { principal: SESSION, encryptionContext: { Owner: 'svc' } }, 'Allow', 'the other value still matches'),
  when('multi-valued key as variable', { StringEquals: { 'kms:EncryptionContext:Owner': '${kms:ResourceAliases}' } }, { encryptionContext: { Owner: 'alias/app' } }, 'ImplicitDeny', 'multi-valued keys cannot be policy variables'),
  when('${*} is a literal star', { StringLike: { 'kms:EncryptionContext:Owner': 'a${*}b*' } }, { encryptionContext: { Owner: 'a*bc' } }, 'Allow', '${*} matches the character *'),
  when('${*} is not a wildcard', { StringLike: { 'kms:EncryptionContext:Owner': 'a${*}b' } }, { encryptionContext: { Owner: 'axxb' } }, 'ImplicitDeny', '${*} does not match other characters'),
  when('${?} is a literal question mark', { StringLike: { 'kms:EncryptionContext:Owner': 'why${?}' } }, { encryptionContext: { Owner: 'why?' } }, 'Allow', '${?} matches the character ?'),
  when('${$} is a literal dollar', { StringEquals: { 'kms:EncryptionContext:Owner': '${$}{aws:username}' } }, { encryptionContext: { Owner: '${aws:username}' } }, 'Allow', '${$} escapes a dollar sign'),
  when('substituted value is literal', { StringLike: { 'kms:EncryptionContext:Owner': '${aws:PrincipalTag/pat}' } }, { principal: { ...ALICE, tags: { pat: 'a*' } }, encryptionContext: { Owner: 'abc' } }, 'ImplicitDeny', 'a * inside a substituted value is not a wildcard'),
  when('variable text is not literal in 2012-10-17', { StringEquals: { 'kms:EncryptionContext:Owner': '${aws:username}' } }, { encryptionContext: { Owner: '${aws:username}' } }, 'ImplicitDeny', 'with Version 2012-10-17 the variable expands to alice, so the literal text does not match'),
  { name: 'Version 2008-10-17 reads variables literally', why: 'earlier policy versions do not support variables', keyPolicy: { Version: '2008-10-17', Statement: [allow(aws(ALICE.arn), { Condition: { StringEquals: { 'kms:EncryptionContext:Owner': '${aws:username}' } } })] }, facts: { encryptionContext: { Owner: '${aws:username}' } }, expect: 'Allow' },
  { name: 'no Version reads variables literally', why: 'a policy without Version is read as 2008-10-17', keyPolicy: { Statement: [allow(aws(ALICE.arn), { Condition: { StringEquals: { 'kms:EncryptionContext:Owner': '${aws:username}' } } })] }, facts: { encryptionContext: { Owner: 'alice' } }, expect: 'ImplicitDeny' },
]

const KEYS: EvalCase[] = [
  when('kms:EncryptionContext:<k>', { StringEquals: { 'kms:EncryptionContext:AppName': 'ExampleApp' } }, {}, 'Allow', 'the KMS example condition'),
  when('kms:EncryptionContext key is case-insensitive', { StringEquals: { 'kms:encryptioncontext:APPNAME': 'ExampleApp' } }, {}, 'Allow', 'the whole condition key, context key included, is case-insensitive'),
  when('kms:EncryptionContext value is case-sensitive', { StringEquals: { 'kms:EncryptionContext:appname': 'EXAMPLEAPP' } }, {}, 'ImplicitDeny', 'the value follows the operator'),
  when('kms:EncryptionContext key with colon', { StringEquals: { 'kms:EncryptionContext:aws:s3:arn': 'arn:aws:s3:::b' } }, { encryptionContext: { 'aws:s3:arn': 'arn:aws:s3:::b' } }, 'Allow', 'context keys may contain colons'),
  when('kms:EncryptionContextKeys case-sensitive', { StringEquals: { 'kms:EncryptionContextKeys': 'appname' } }, {}, 'ImplicitDeny', 'to require a key\'s case, compare kms:EncryptionContextKeys'),
  when('kms:CallerAccount', { StringEquals: { 'kms:CallerAccount': A } }, {}, 'Allow', 'the caller is in account A'),
  when('kms:CallerAccount other', { StringEquals: { 'kms:CallerAccount': B } }, {}, 'ImplicitDeny', 'wrong account'),
  when('kms:CallerAccount absent for ListKeys', { StringEquals: { 'kms:CallerAccount': A } }, { action: 'kms:ListKeys' }, 'ImplicitDeny', 'KMS omits kms:CallerAccount for CreateKey, ListKeys and a few others'),
  { name: 'kms:CallerAccount with "*" (EBS pattern)', why: 'AWS-managed key pattern: "*" plus kms:CallerAccount and kms:ViaService', keyPolicy: policy(allow(aws('*'), { Condition: { StringEquals: { 'kms:CallerAccount': A, 'kms:ViaService': 'ec2.us-east-1.amazonaws.com' } } })), facts: { viaService: 'ec2.us-east-1.amazonaws.com' }, expect: 'Allow' },
  when('kms:ViaService', { StringEquals: { 'kms:ViaService': 'ec2.us-east-1.amazonaws.com' } }, { viaService: 'ec2.us-east-1.amazonaws.com' }, 'Allow', 'request came through EC2'),
  when('kms:ViaService absent', { StringEquals: { 'kms:ViaService': 'ec2.us-east-1.amazonaws.com' } }, {}, 'ImplicitDeny', 'a direct call has no kms:ViaService'),
  when('kms:KeySpec', { StringEquals: { 'kms:KeySpec': 'SYMMETRIC_DEFAULT' } }, {}, 'Allow', 'the key is symmetric'),
  when('kms:KeySpec RSA', { StringLike: { 'kms:KeySpec': 'RSA_*' } }, {}, 'ImplicitDeny', 'not an RSA key'),
  when('kms:KeyUsage', { StringEquals: { 'kms:KeyUsage': 'ENCRYPT_DECRYPT' } }, {}, 'Allow', 'encryption key'),
  when('kms:KeyUsage mismatch', { StringEquals: { 'kms:KeyUsage': 'SIGN_VERIFY' } }, {}, 'ImplicitDeny', 'not a signing key'),
  when('kms:KeyOrigin', { StringEquals: { 'kms:KeyOrigin': 'AWS_KMS' } }, {}, 'Allow', 'KMS-generated material'),
  when('kms:KeyOrigin mismatch', { StringEquals: { 'kms:KeyOrigin': 'EXTERNAL' } }, {}, 'ImplicitDeny', 'not imported material'),
  when('kms:EncryptionAlgorithm', { StringEquals: { 'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT' } }, { encryptionAlgorithm: 'SYMMETRIC_DEFAULT' }, 'Allow', 'requested algorithm'),
  when('kms:EncryptionAlgorithm mismatch', { StringEquals: { 'kms:EncryptionAlgorithm': 'RSAES_OAEP_SHA_256' } }, { encryptionAlgorithm: 'SYMMETRIC_DEFAULT' }, 'ImplicitDeny', 'different algorithm'),
  when('kms:SigningAlgorithm', { StringLike: { 'kms:SigningAlgorithm': 'ECDSA_*' } }, { action: 'kms:Sign', signingAlgorithm: 'ECDSA_SHA_256' }, 'Allow', 'ECDSA signing'),
  when('kms:SigningAlgorithm mismatch', { StringLike: { 'kms:SigningAlgorithm': 'ECDSA_*' } }, { action: 'kms:Sign', signingAlgorithm: 'RSASSA_PSS_SHA_256' }, 'ImplicitDeny', 'not ECDSA'),
  when('kms:MessageType', { StringEquals: { 'kms:MessageType': 'DIGEST' } }, { action: 'kms:Sign', messageType: 'DIGEST' }, 'Allow', 'digest signing'),
  when('kms:MessageType mismatch', { StringEquals: { 'kms:MessageType': 'DIGEST' } }, { action: 'kms:Sign', messageType: 'RAW' }, 'ImplicitDeny', 'raw message'),
  when('kms:MacAlgorithm', { StringEquals: { 'kms:MacAlgorithm': 'HMAC_SHA_256' } }, { action: 'kms:GenerateMac', macAlgorithm: 'HMAC_SHA_256' }, 'Allow', 'requested MAC algorithm'),
  when('kms:MacAlgorithm mismatch', { StringEquals: { 'kms:MacAlgorithm': 'HMAC_SHA_512' } }, { action: 'kms:GenerateMac', macAlgorithm: 'HMAC_SHA_256' }, 'ImplicitDeny', 'different MAC algorithm'),
  when('kms:GrantOperations ForAllValues', { 'ForAllValues:StringEquals': { 'kms:GrantOperations': ['Encrypt', 'ReEncryptTo'] } }, { action: 'kms:CreateGrant', newGrant: { operations: ['Encrypt'] } }, 'Allow', 'the KMS example: only Encrypt/ReEncryptTo may be delegated'),
  when('kms:GrantOperations ForAllValues, Decrypt', { 'ForAllValues:StringEquals': { 'kms:GrantOperations': ['Encrypt', 'ReEncryptTo'] } }, { action: 'kms:CreateGrant', newGrant: { operations: ['Encrypt', 'Decrypt'] } }, 'ImplicitDeny', 'Decrypt is not delegable'),
  when('kms:GrantConstraintType', { StringEquals: { 'kms:GrantConstraintType': 'EncryptionContextEquals' } }, { action: 'kms:CreateGrant', newGrant: { operations: ['Decrypt'], constraints: { encryptionContextEquals: { a: 'b' } } } }, 'Allow', 'the grant has an Equals constraint'),
  when('kms:GrantConstraintType missing', { StringEquals: { 'kms:GrantConstraintType': 'EncryptionContextEquals' } }, { action: 'kms:CreateGrant', newGrant: { operations: ['Decrypt'] } }, 'ImplicitDeny', 'a grant without constraints has no constraint type'),
  when('kms:EncryptionContext on CreateGrant', { StringEquals: { 'kms:EncryptionContext:tenant': 't1' } }, { action: 'kms:CreateGrant', encryptionContext: null, newGrant: { operations: ['Decrypt'], constraints: { encryptionContextSubset: { tenant: 't1' } } } }, 'Allow', "on CreateGrant the key reads the grant's constraint context"),
  when('kms:GrantIsForAWSResource', { Bool: { 'kms:GrantIsForAWSResource': 'true' } }, { action: 'kms:CreateGrant', newGrant: { operations: ['Decrypt'] } }, 'ImplicitDeny', 'a direct CreateGrant is not for an AWS resource'),
  when('kms:GrantIsForAWSResource true', { Bool: { 'kms:GrantIsForAWSResource': 'true' } }, { action: 'kms:CreateGrant', newGrant: { operations: ['Decrypt'], isForAwsResource: true } }, 'Allow', 'made through an integrated service'),
  when('kms:RetiringPrincipal', { StringEquals: { 'kms:RetiringPrincipal': BOB.arn } }, { action: 'kms:CreateGrant', newGrant: { operations: ['Decrypt'], retiringPrincipal: BOB.arn } }, 'Allow', 'the named retiring principal'),
  when('kms:RetiringPrincipal other', { ArnLike: { 'kms:RetiringPrincipal': `arn:aws:iam::${B}:*` } }, { action: 'kms:CreateGrant', newGrant: { operations: ['Decrypt'], retiringPrincipal: BOB.arn } }, 'ImplicitDeny', 'bob is not in account B'),
  when('kms:GranteePrincipal', { StringEquals: { 'kms:GranteePrincipal': ROLE_ARN } }, { action: 'kms:CreateGrant', newGrant: { operations: ['Decrypt'], granteePrincipal: ROLE_ARN } }, 'Allow', 'grants only to this role'),
  when('kms:ResourceAliases', { 'ForAnyValue:StringLike': { 'kms:ResourceAliases': 'alias/app-*' } }, {}, 'Allow', 'alias/app-prod points at the key'),
  when('kms:RequestAlias', { StringEquals: { 'kms:RequestAlias': 'alias/app' } }, { requestAlias: 'alias/app' }, 'Allow', 'the caller named the key by this alias'),
  when('kms:RequestAlias absent', { StringEquals: { 'kms:RequestAlias': 'alias/app' } }, {}, 'ImplicitDeny', 'the caller used the key id'),
  when('kms:BypassPolicyLockoutSafetyCheck', { Bool: { 'kms:BypassPolicyLockoutSafetyCheck': 'true' } }, { action: 'kms:PutKeyPolicy', bypassPolicyLockoutSafetyCheck: true }, 'Allow', 'the request set the bypass flag'),
  denyWhen('deny bypass of the lockout check', { Bool: { 'kms:BypassPolicyLockoutSafetyCheck': true } }, { action: 'kms:PutKeyPolicy', bypassPolicyLockoutSafetyCheck: true }, 'ExplicitDeny', 'the KMS example forbids bypassing'),
  denyWhen('deny bypass, flag false', { Bool: { 'kms:BypassPolicyLockoutSafetyCheck': true } }, { action: 'kms:PutKeyPolicy', bypassPolicyLockoutSafetyCheck: false }, 'Allow', 'no bypass requested'),
  when('aws:ResourceTag', { StringEquals: { 'aws:ResourceTag/env': 'prod' } }, {}, 'Allow', 'the key is tagged env=prod'),
  when('aws:ResourceTag tag key case-insensitive', { StringEquals: { 'aws:ResourceTag/owner': 'alice' } }, {}, 'Allow', 'the condition key (tag key included) is case-insensitive'),
  when('aws:ResourceTag mismatch', { StringEquals: { 'aws:ResourceTag/env': 'dev' } }, {}, 'ImplicitDeny', 'tag value differs'),
  when('aws:RequestTag', { StringEquals: { 'aws:RequestTag/env': 'dev' } }, { action: 'kms:TagResource', requestTags: { env: 'dev' } }, 'Allow', 'tag in the request'),
  when('aws:RequestTag absent', { StringEquals: { 'aws:RequestTag/env': 'dev' } }, {}, 'ImplicitDeny', 'no tags in a Decrypt request'),
  when('aws:TagKeys from UntagResource', { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['env', 'team'] } }, { action: 'kms:UntagResource', tagKeys: ['env'] }, 'Allow', 'tag keys without values'),
  when('aws:TagKeys not allowed', { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['env'] } }, { action: 'kms:TagResource', requestTags: { env: 'x', cost: 'y' } }, 'ImplicitDeny', 'cost is not an allowed tag key'),
  when('aws:PrincipalArn', { StringEquals: { 'aws:PrincipalArn': ALICE.arn } }, {}, 'Allow', 'user ARN'),
  when('aws:PrincipalAccount', { StringEquals: { 'aws:PrincipalAccount': A } }, {}, 'Allow', "the caller's account"),
  { name: 'aws:PrincipalAccount cross-account', why: 'carol is in account B, so the "*" statement does not apply to her', keyPolicy: policy(allow('*', { Condition: { StringEquals: { 'aws:PrincipalAccount': A } } })), identityPolicies: [iam(iamAllow())], facts: { principal: CAROL }, expect: 'ImplicitDeny' },
  when('aws:PrincipalTag', { StringEquals: { 'aws:PrincipalTag/team': 'blue' } }, {}, 'Allow', 'alice is tagged team=blue'),
  when('aws:PrincipalTag missing', { StringEquals: { 'aws:PrincipalTag/team': 'blue' } }, { principal: { ...ALICE, tags: {} } }, 'ImplicitDeny', 'no tag'),
  when('aws:PrincipalType', { StringEquals: { 'aws:PrincipalType': 'User' } }, {}, 'Allow', 'an IAM user'),
  when('aws:ResourceAccount', { StringEquals: { 'aws:ResourceAccount': A } }, {}, 'Allow', "the key's account"),
  when('aws:SourceIp', { IpAddress: { 'aws:SourceIp': '203.0.113.0/25' } }, {}, 'Allow', 'caller address in range'),
  when('aws:CurrentTime', { DateGreaterThanEquals: { 'aws:CurrentTime': '2024-06-01T00:00:00Z' } }, {}, 'Allow', 'after the start date'),
  when('aws:EpochTime', { NumericGreaterThan: { 'aws:EpochTime': '1717243199' } }, {}, 'Allow', 'after the epoch second'),
  when('aws:SecureTransport', { Bool: { 'aws:SecureTransport': 'true' } }, {}, 'Allow', 'the request came over TLS'),
  when('aws:username', { StringEquals: { 'aws:username': 'alice' } }, {}, 'Allow', 'user friendly name'),
  when('aws:username, role session', { StringEquals: { 'aws:username': 'alice' } }, { principal: SESSION }, 'ImplicitDeny', 'sessions have no aws:username'),
  when('aws:userid', { StringEquals: { 'aws:userid': 'AIDAALICE00000000001' } }, {}, 'Allow', 'unique id'),
  when('aws:userid session', { StringLike: { 'aws:userid': 'AROAAPP0000000000001:*' } }, { principal: SESSION }, 'Allow', 'role-id:session-name'),
  when('aws:userid root', { StringEquals: { 'aws:userid': A } }, { principal: ROOT }, 'Allow', 'for the root user aws:userid is the account id'),
  when('condition key names are case-insensitive', { IpAddress: { 'AWS:SOURCEIP': '203.0.113.0/24' } }, {}, 'Allow', '"Key names are case-insensitive"'),
]

const GRANTS: EvalCase[] = [
  { name: 'grant to the caller', why: 'a grant allows its operations to its grantee', keyPolicy: BOB_ONLY, grants: [grant('g1', ALICE.arn, ['Decrypt', 'Encrypt'])], expect: 'Allow', decidedBy: ['grant:g1'] },
  { name: 'grant for another operation', why: 'the grant does not list Decrypt', keyPolicy: BOB_ONLY, grants: [grant('g1', ALICE.arn, ['Encrypt'])], expect: 'ImplicitDeny' },
  { name: 'grant to someone else', why: 'bob is the grantee', keyPolicy: BOB_ONLY, grants: [grant('g1', BOB.arn, ['Decrypt'])], expect: 'ImplicitDeny' },
  { name: 'grant to a role, session calls', why: 'a grant to a role covers its sessions', keyPolicy: BOB_ONLY, grants: [grant('g1', ROLE_ARN, ['Decrypt'])], facts: { principal: SESSION }, expect: 'Allow', decidedBy: ['grant:g1'] },
  { name: 'grant to a session', why: 'assumed-role users are valid grantees', keyPolicy: BOB_ONLY, grants: [grant('g1', SESSION.arn, ['Decrypt'])], facts: { principal: SESSION }, expect: 'Allow', decidedBy: ['grant:g1'] },
  { name: 'grant for another key', why: 'a grant covers exactly one key', keyPolicy: BOB_ONLY, grants: [grant('g1', ALICE.arn, ['Decrypt'], { keyArn: OTHER_KEY })], expect: 'ImplicitDeny' },
  { name: 'grant cannot give PutKeyPolicy', why: 'PutKeyPolicy is not a grant operation', keyPolicy: BOB_ONLY, grants: [grant('g1', ALICE.arn, ['PutKeyPolicy'])], facts: { action: 'kms:PutKeyPolicy' }, expect: 'ImplicitDeny' },
  { name: 'EncryptionContextSubset satisfied', why: 'the request context contains the subset (and more)', keyPolicy: BOB_ONLY, grants: [grant('g1', ALICE.arn, ['Decrypt'], { constraints: { encryptionContextSubset: { Dept: 'eng' } } })], expect: 'Allow', decidedBy: ['grant:g1'] },
  { name: 'EncryptionContextSubset unsatisfied', why: 'Dept must be ops', keyPolicy: BOB_ONLY, grants: [grant('g1', ALICE.arn, ['Decrypt'], { constraints: { encryptionContextSubset: { Dept: 'ops' } } })], expect: 'ImplicitDeny' },
  { name: 'EncryptionContextSubset key case', why: 'in grant constraints the key is not case-sensitive', keyPolicy: BOB_ONLY, grants: [grant('g1', ALICE.arn, ['Decrypt'], { constraints: { encryptionContextSubset: { dept: 'eng' } } })], expect: 'Allow' },
  { name: 'EncryptionContextSubset value case', why: 'values are case-sensitive', keyPolicy: BOB_ONLY, grants: [grant('g1', ALICE.arn, ['Decrypt'], { constraints: { encryptionContextSubset: { Dept: 'ENG' } } })], expect: 'ImplicitDeny' },
  { name: 'EncryptionContextSubset, no context', why: 'a missing context lacks the required pairs', keyPolicy: BOB_ONLY, grants: [grant('g1', ALICE.arn, ['Encrypt'], { constraints: { encryptionContextSubset: { Dept: 'eng' } } })], facts: { action: 'kms:Encrypt', encryptionContext: null }, expect: 'ImplicitDeny' },
  { name: 'EncryptionContextEquals exact', why: 'the request context is exactly the constraint', keyPolicy: BOB_ONLY, grants: [grant('g1', ALICE.arn, ['Decrypt'], { constraints: { encryptionContextEquals: { appname: 'ExampleApp', Dept: 'eng' } } })], expect: 'Allow' },
  { name: 'EncryptionContextEquals, extra pair', why: 'Equals allows no additional pairs', keyPolicy: BOB_ONLY, grants: [grant('g1', ALICE.arn, ['Decrypt'], { constraints: { encryptionContextEquals: { Dept: 'eng' } } })], expect: 'ImplicitDeny' },
  { name: 'constraints skip DescribeKey', why: 'constraints apply only to operations with an encryption context', keyPolicy: BOB_ONLY, grants: [grant('g1', ALICE.arn, ['DescribeKey'], { constraints: { encryptionContextEquals: { x: 'y' } } })], facts: { action: 'kms:DescribeKey' }, expect: 'Allow' },
  { name: 'constraints skip asymmetric keys', why: 'asymmetric cryptographic operations take no encryption context', keyPolicy: BOB_ONLY, grants: [grant('g1', ALICE.arn, ['Sign'], { constraints: { encryptionContextSubset: { x: 'y' } } })], facts: { action: 'kms:Sign', resource: { ...RESOURCE, keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' } }, expect: 'Allow' },
  { name: 'constraints skip RSA Encrypt', why: 'RSA encryption keys take no encryption context either', keyPolicy: BOB_ONLY, grants: [grant('g1', ALICE.arn, ['Encrypt'], { constraints: { encryptionContextSubset: { x: 'y' } } })], facts: { action: 'kms:Encrypt', encryptionContext: null, resource: { ...RESOURCE, keySpec: 'RSA_2048' } }, expect: 'Allow' },
  { name: 'cross-account grant', why: 'a grant to an external user allows it without an IAM policy', keyPolicy: DEFAULT_POLICY, grants: [grant('g1', CAROL.arn, ['Decrypt'])], facts: { principal: CAROL }, expect: 'Allow', decidedBy: ['grant:g1'] },
  { name: 'grant to the account, no IAM', why: 'a grant to an account reaches its users only through IAM', keyPolicy: BOB_ONLY, grants: [grant('g1', `arn:aws:iam::${A}:root`, ['Decrypt'])], expect: 'ImplicitDeny' },
  { name: 'grant to the account + IAM', why: 'the account grant plus an identity policy allow', keyPolicy: BOB_ONLY, identityPolicies: [iam(iamAllow({ Action: 'kms:Decrypt' }))], grants: [grant('g1', `arn:aws:iam::${A}:root`, ['Decrypt'])], expect: 'Allow', decidedBy: ['grant:g1', 'identity#0.0'] },
  { name: 'grant to the account, root calls', why: 'the account root is the account', keyPolicy: BOB_ONLY, grants: [grant('g1', A, ['Decrypt'])], facts: { principal: ROOT }, expect: 'Allow', decidedBy: ['grant:g1'] },
  { name: 'ReEncryptFrom grant', why: 'ReEncrypt needs ReEncryptFrom on the source key', keyPolicy: BOB_ONLY, grants: [grant('g1', ALICE.arn, ['ReEncryptFrom'])], facts: { action: 'kms:ReEncryptFrom' }, expect: 'Allow' },
  { name: 'ReEncryptFrom grant, ReEncryptTo request', why: 'the two halves are separate operations', keyPolicy: BOB_ONLY, grants: [grant('g1', ALICE.arn, ['ReEncryptFrom'])], facts: { action: 'kms:ReEncryptTo' }, expect: 'ImplicitDeny' },
  { name: 'grant delegates a subset', why: 'CreateGrant from a grant may delegate operations it holds', keyPolicy: BOB_ONLY, grants: [grant('g1', ALICE.arn, ['Decrypt', 'Encrypt', 'CreateGrant'])], facts: { action: 'kms:CreateGrant', encryptionContext: null, newGrant: { operations: ['Decrypt'], granteePrincipal: BOB.arn } }, expect: 'Allow' },
  { name: 'grant cannot delegate more', why: 'a grantee can only delegate what it was granted', keyPolicy: BOB_ONLY, grants: [grant('g1', ALICE.arn, ['Encrypt', 'CreateGrant'])], facts: { action: 'kms:CreateGrant', encryptionContext: null, newGrant: { operations: ['Decrypt'] } }, expect: 'ImplicitDeny' },
  { name: 'delegation must keep constraints', why: 'a constrained grant can only create grants at least as strict', keyPolicy: BOB_ONLY, grants: [grant('g1', ALICE.arn, ['Decrypt', 'CreateGrant'], { constraints: { encryptionContextSubset: { Dept: 'eng' } } })], facts: { action: 'kms:CreateGrant', encryptionContext: null, newGrant: { operations: ['Decrypt'] } }, expect: 'ImplicitDeny' },
  { name: 'delegation with stricter constraints', why: 'Equals containing the held subset is stricter', keyPolicy: BOB_ONLY, grants: [grant('g1', ALICE.arn, ['Decrypt', 'CreateGrant'], { constraints: { encryptionContextSubset: { Dept: 'eng' } } })], facts: { action: 'kms:CreateGrant', encryptionContext: null, newGrant: { operations: ['Decrypt'], constraints: { encryptionContextEquals: { Dept: 'eng', AppName: 'x' } } } }, expect: 'Allow' },
  { name: 'first matching grant decides', why: 'the grant whose grantee and operations fit is named', keyPolicy: BOB_ONLY, grants: [grant('g1', BOB.arn, ['Decrypt']), grant('g2', ALICE.arn, ['Encrypt']), grant('g3', ALICE.arn, ['Decrypt'], { name: 'app' })], expect: 'Allow', decidedBy: ['grant:g3'] },
]

/** Every case, in table order. */
export const CASES: readonly EvalCase[] = [
  ...ACCESS_RULES, ...NOT_PRINCIPAL, ...ACTIONS, ...RESOURCES, ...STRING, ...NUMERIC, ...DATE, ...BOOL, ...BINARY, ...IP, ...ARN,
  ...NULL_AND_IFEXISTS, ...SETS, ...VARIABLES, ...KEYS, ...GRANTS,
]
