import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { isKmsError } from '../core/errors.js'
import { parsePolicy, type PolicyKind } from './policy-document.js'
import { parseCidr, parseDate, parseIp, parseNumber } from './conditions.js'
import { arnMatch, compilePattern, globMatch, splitArn } from './pattern.js'
import { buildRequestContext, contextFrom } from './context.js'
import { ALICE, BASE_FACTS, SESSION } from './evaluate.cases.js'

const malformed = (e: unknown): boolean => isKmsError(e, 'MalformedPolicyDocumentException')
const stmt = (more: Record<string, unknown> = {}) => ({ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*', ...more })
const doc = (...Statement: unknown[]) => ({ Version: '2012-10-17', Statement })
const rejects = (d: unknown, kind: PolicyKind = 'key', pattern?: RegExp) =>
  assert.throws(() => parsePolicy(d, { kind }), (e: unknown) => malformed(e) && (pattern === undefined || pattern.test((e as Error).message)))

describe('parsePolicy', () => {
  it('parses the default key policy', () => {
    const p = parsePolicy(JSON.stringify(doc({ Sid: 'Enable IAM User Permissions', ...stmt({ Principal: { AWS: 'arn:aws:iam::111122223333:root' } }) })), { kind: 'key' })
    assert.equal(p.statements.length, 1)
    assert.deepEqual([...p.statements[0]!.principal!.accounts], ['111122223333'])
    assert.equal(p.statements[0]!.sid, 'Enable IAM User Permissions')
    assert.ok(Object.isFrozen(p))
  })

  it('accepts a single statement object', () => {
    assert.equal(parsePolicy({ Statement: stmt() }, { kind: 'key' }).statements.length, 1)
  })

  it('rejects text that is not JSON', () => rejects('{', 'key', /not a valid JSON/))

  it('Precondition: A policy document is a JSON object.', () => {
    rejects('[]')
    rejects('"x"')
    rejects(null)
  })

  it('Precondition: A policy has at least one statement.', () => {
    rejects({ Version: '2012-10-17' })
    rejects({ Version: '2012-10-17', Statement: [] })
  })

  it('rejects unknown elements, versions and effects', () => {
    rejects({ Statement: stmt(), Extra: 1 }, 'key', /unknown element: Extra/)
    rejects({ Version: '2020-01-01', Statement: stmt() }, 'key', /Version/)
    rejects(doc(stmt({ Effect: 'allow' })), 'key', /Effect/)
    rejects(doc(stmt({ Bogus: 1 })), 'key', /unknown element: Bogus/)
    rejects(doc(stmt({ Sid: 1 })), 'key', /Sid/)
    rejects({ Id: 7, Statement: stmt() }, 'key', /Id/)
  })

  it('Precondition: A key policy statement names exactly one of Principal or NotPrincipal.', () => {
    const { Principal: _, ...noPrincipal } = stmt()
    rejects(doc(noPrincipal), 'key', /no principal/)
    rejects(doc(stmt({ NotPrincipal: '*' })), 'key', /both Principal and NotPrincipal/)
  })

  it('Precondition: An identity policy statement names no principal.', () => {
    rejects(doc(stmt()), 'identity', /should not specify a principal/)
  })

  it('Precondition: An AWS principal is "*", an account id, an IAM or STS ARN, or a unique id, without partial wildcards.', () => {
    for (const bad of ['arn:aws:iam::111122223333:user/*', 'arn:aws:iam::*:root', 'alice', '11112222333', 'arn:aws:s3:::bucket']) {
      rejects(doc(stmt({ Principal: { AWS: bad } })), 'key', /invalid principals/)
    }
    rejects(doc(stmt({ Principal: { Group: 'x' } })), 'key', /invalid principals/)
    rejects(doc(stmt({ Principal: {} })), 'key', /invalid principals/)
    rejects(doc(stmt({ Principal: 'arn:aws:iam::111122223333:root' })), 'key', /invalid principals/)
    for (const good of ['*', '111122223333', 'arn:aws:iam::111122223333:root', 'arn:aws:sts::111122223333:assumed-role/R/s', 'arn:aws-cn:iam::111122223333:role/a/b/R', 'AIDAJQABLZS4A3QDU576Q']) {
      parsePolicy(doc(stmt({ Principal: { AWS: good } })), { kind: 'key' })
    }
    parsePolicy(doc(stmt({ Principal: { Service: 'ec2.amazonaws.com', AWS: ['111122223333'] } })), { kind: 'key' })
  })

  it('rejects actions without a vendor prefix', () => {
    rejects(doc(stmt({ Action: 'Decrypt' })), 'key', /vendor/)
    rejects(doc(stmt({ Action: [] })), 'key', /Action/)
    rejects(doc(stmt({ Action: 'kms:Decrypt', NotAction: 'kms:Encrypt' })), 'key', /both Action and NotAction/)
  })

  it('key policy statements without Action or Resource are accepted but have no effect', () => {
    const { Resource: _, ...noResource } = stmt()
    const p = parsePolicy(doc(noResource), { kind: 'key' })
    assert.equal(p.statements[0]!.effective, false)
  })

  it('identity policies need actions, ARN resources and unique Sids', () => {
    rejects(doc({ Effect: 'Allow', Resource: '*' }), 'identity', /actions/)
    rejects(doc({ Effect: 'Allow', Action: 'kms:*' }), 'identity', /resources/)
    rejects(doc({ Effect: 'Allow', Action: 'kms:*', Resource: 'key/1' }), 'identity', /ARN format/)
    rejects(doc({ Sid: 'A', Effect: 'Allow', Action: 'kms:*', Resource: '*' }, { Sid: 'A', Effect: 'Deny', Action: 'kms:*', Resource: '*' }), 'identity', /unique/)
  })

  it('Precondition: Every condition operator is one that AWS defines.', () => {
    rejects(doc(stmt({ Condition: { StringEqual: { 'aws:username': 'a' } } })), 'key', /Invalid condition operator/)
    rejects(doc(stmt({ Condition: { 'ForSomeValues:StringEquals': { 'aws:username': 'a' } } })), 'key', /set operator/)
  })

  it('Precondition: Null takes neither IfExists nor a set qualifier.', () => {
    rejects(doc(stmt({ Condition: { NullIfExists: { 'aws:username': 'true' } } })))
    rejects(doc(stmt({ Condition: { 'ForAnyValue:Null': { 'aws:username': 'true' } } })))
  })

  it('Precondition: Every condition value fits its operator.', () => {
    const bad: Array<[string, unknown]> = [
      ['NumericEquals', 'ten'], ['DateLessThan', '2024-13-01'], ['DateLessThan', '2024-02-30'], ['Bool', 'yes'],
      ['IpAddress', '10.0.0.0/33'], ['IpAddress', '300.1.1.1'], ['IpAddress', '2001:db8::1::2'], ['BinaryEquals', 'not base64!'],
      ['Null', 'maybe'], ['Null', ['true', 'false']], ['NumericEquals', '${aws:username}'],
    ]
    for (const [op, v] of bad) rejects(doc(stmt({ Condition: { [op]: { 'aws:x': v } } })), 'key', /not valid/)
    rejects(doc(stmt({ Condition: { StringEquals: { 'aws:x': [] } } })), 'key', /no values/)
    rejects(doc(stmt({ Condition: { StringEquals: { 'aws:x': { a: 1 } } } })), 'key', /strings, numbers or booleans/)
    rejects(doc(stmt({ Condition: { StringEquals: { username: 'a' } } })), 'key', /vendor/)
    rejects(doc(stmt({ Condition: { StringEquals: {} } })), 'key', /map condition keys/)
    rejects(doc(stmt({ Condition: [] })), 'key', /Condition element/)
  })

  it('records the condition keys and variables a statement depends on', () => {
    const p = parsePolicy(doc(stmt({ Resource: 'arn:aws:kms:*:*:key/${aws:PrincipalTag/k}', Condition: { StringEquals: { 'AWS:SourceIp': '${aws:username}' } } })), { kind: 'key' })
    assert.deepEqual([...p.statements[0]!.referencedKeys].sort(), ['aws:principaltag/k', 'aws:sourceip', 'aws:username'])
  })

  it('honours variables in a Resource only after the fifth colon', () => {
    const p = parsePolicy(doc(stmt({ Resource: 'arn:aws:kms:${aws:username}:111122223333:key/${aws:username}' })), { kind: 'key' })
    assert.deepEqual(p.statements[0]!.resources.patterns[0]!.variables, ['aws:username'])
  })
})

describe('values, patterns and ARNs', () => {
  it('parses numbers', () => {
    assert.equal(parseNumber('10'), 10)
    assert.equal(parseNumber('-1.5e2'), -150)
    assert.equal(parseNumber('0x10'), undefined)
    assert.equal(parseNumber(''), undefined)
  })

  it('parses W3C dates and epoch seconds', () => {
    assert.equal(parseDate('2024-06-01T12:00:00Z'), Date.UTC(2024, 5, 1, 12))
    assert.equal(parseDate('2024-06-01T14:00:00+02:00'), Date.UTC(2024, 5, 1, 12))
    assert.equal(parseDate('2024-06-01T12:00Z'), Date.UTC(2024, 5, 1, 12))
    assert.equal(parseDate('2024-06'), Date.UTC(2024, 5, 1))
    assert.equal(parseDate('1717243200'), Date.UTC(2024, 5, 1, 12))
    assert.equal(parseDate('2024-06-01T12:00:00.250Z'), Date.UTC(2024, 5, 1, 12) + 250)
    assert.equal(parseDate('June 1'), undefined)
    assert.equal(parseDate('2024-06-01T25:00Z'), undefined)
  })

  it('parses IPv4, IPv6 and CIDR ranges', () => {
    assert.deepEqual(parseCidr('10.0.0.0/8'), { v6: false, bytes: new Uint8Array([10, 0, 0, 0]), prefix: 8 })
    assert.equal(parseCidr('2001:db8::/32')?.prefix, 32)
    assert.equal(parseCidr('::1')?.prefix, 128)
    assert.equal(parseCidr('1.2.3.4/')?.prefix, undefined)
    assert.deepEqual(parseIp('::ffff:10.1.2.3'), { v6: false, bytes: new Uint8Array([10, 1, 2, 3]) })
    assert.equal(parseIp('2001:db8::10.1.2.3')?.v6, true)
    assert.equal(parseIp('fe80::1%eth0'), undefined)
    assert.equal(parseIp('1:2:3:4:5:6:7:8:9'), undefined)
  })

  it('matches wildcards in linear time', () => {
    const p = compilePattern('*a*a*a*a*a*a*a*a*a*a*a*a*b', { wildcards: true, variables: false }).fixed!
    const start = process.hrtime.bigint()
    assert.equal(globMatch(p, 'a'.repeat(20000)), false)
    assert.ok(Number(process.hrtime.bigint() - start) / 1e6 < 2000)
    assert.equal(globMatch(compilePattern('a?c*', { wildcards: true, variables: false }).fixed!, 'a😀c'), true)
    assert.equal(globMatch(compilePattern('', { wildcards: true, variables: false }).fixed!, ''), true)
  })

  it('keeps malformed ${ as text', () => {
    for (const s of ['${', '${aws:username', "${a, 'b}", '${}', '${a b}']) {
      const p = compilePattern(s, { wildcards: false, variables: true })
      assert.deepEqual(p.variables, [], s)
      assert.equal(p.fixed?.join(''), s)
    }
  })

  it('splits and matches ARNs component by component', () => {
    assert.deepEqual(splitArn('arn:aws:kms:us-east-1:1:key/a:b'), ['arn', 'aws', 'kms', 'us-east-1', '1', 'key/a:b'])
    assert.equal(splitArn('arn:aws:kms'), undefined)
    const m = (pattern: string, arn: string) => arnMatch(compilePattern(pattern, { wildcards: true, variables: false }).fixed!, arn)
    assert.equal(m('arn:aws:kms:*:*:key/*', 'arn:aws:kms:us-east-1:1:key/x'), true)
    assert.equal(m('arn:aws:*:key/*', 'arn:aws:kms:us-east-1:1:key/x'), false)
    assert.equal(m('arn:aws:kms:::', 'arn:aws:kms:::'), true)
    assert.equal(m('arn:aws:kms:*:*:*', 'arn:aws:kms:us-east-1:1:key/a:b'), true)
  })
})

describe('buildRequestContext', () => {
  it('describes a role session by its role and leaves out what does not apply', () => {
    const ctx = buildRequestContext({ ...BASE_FACTS, principal: SESSION })
    assert.equal(ctx.get('aws:principalarn'), SESSION.roleArn)
    assert.equal(ctx.get('aws:username'), undefined)
    assert.equal(ctx.get('aws:principaltype'), 'AssumedRole')
    assert.equal(ctx.get('aws:currenttime'), '2024-06-01T12:00:00Z')
    assert.equal(ctx.get('aws:epochtime'), '1717243200')
    assert.deepEqual(ctx.get('kms:encryptioncontextkeys'), ['AppName', 'Dept'])
    assert.equal(ctx.get('kms:encryptioncontext:appname'), 'ExampleApp')
    assert.equal(ctx.get('aws:tagkeys'), undefined)
  })

  it('keeps both values when context keys differ only in case', () => {
    const ctx = buildRequestContext({ ...BASE_FACTS, encryptionContext: { a: '1', A: '2' } })
    assert.deepEqual(ctx.get('kms:encryptioncontext:a'), ['1', '2'])
  })

  it('lists the same keys and values it answers one by one (they are worked out on first lookup)', () => {
    const facts = {
      ...BASE_FACTS,
      principal: { ...ALICE, tags: { Team: 'a', team: 'b' } },
      resource: { ...BASE_FACTS.resource, tags: { App: 'x' }, aliases: [] },
      requestTags: { Env: 'prod' },
      extra: { 'AWS:SourceVpc': 'vpc-1', 'kms:ViaService': 'ec2.us-east-1.amazonaws.com', 'aws:TagKeys': [] },
      encryptionContext: { a: '1', A: '2', B: '' },
    }
    const listed = new Map(buildRequestContext(facts))
    const lazy = buildRequestContext(facts)
    for (const [k, v] of listed) assert.deepEqual(lazy.get(k), v, k)
    assert.equal(lazy.size, listed.size)
    assert.equal(listed.get('aws:principaltag/team'), 'b')
    assert.equal(listed.get('kms:viaservice'), 'ec2.us-east-1.amazonaws.com')
    assert.deepEqual(listed.get('aws:tagkeys'), ['Env'])
    assert.equal(listed.get('kms:resourcealiases'), undefined)
    assert.equal(listed.get('kms:encryptioncontext:b'), '')
    for (const k of ['aws:sourcevpc', 'aws:principaltag/team', 'kms:encryptioncontext:a', 'aws:requesttag/env', 'aws:resourcetag/app', 'kms:calleraccount']) {
      assert.ok(listed.has(k), k)
    }
    assert.equal(lazy.get('aws:multifactorauthpresent'), undefined)
  })

  it('contextFrom lower-cases names', () => {
    assert.equal(contextFrom({ 'AWS:UserName': 'x' }).get('aws:username'), 'x')
  })
})
