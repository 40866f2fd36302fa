import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { buildRequest, type RequestFacts } from './context.js'
import { accessDenied, accessDeniedMessage, evaluate, type Decider } from './evaluate.js'
import { ALICE, BASE_FACTS, BOB, CASES, KEY, ROOT, type EvalCase } from './evaluate.cases.js'
import { parsePolicy } from './policy-document.js'
import { CONDITION_OPERATORS } from './conditions.js'

/** `key#1`, `identity#0.2`, `grant:g1`, `root-user`. */
function compact(d: Decider): string {
  switch (d.kind) {
    case 'key-policy': return `key#${d.statementIndex}`
    case 'identity-policy': return `identity#${d.policyIndex}.${d.statementIndex}`
    case 'grant': return `grant:${d.grantId}`
    case 'root-user': return 'root-user'
  }
}

function factsOf(c: EvalCase): RequestFacts {
  const merged: Record<string, unknown> = { ...BASE_FACTS }
  for (const [k, v] of Object.entries(c.facts ?? {})) {
    if (v === null) delete merged[k]
    else merged[k] = v
  }
  return merged as unknown as RequestFacts
}

function run(c: EvalCase) {
  const request = buildRequest(factsOf(c))
  const keyPolicy = parsePolicy(c.keyPolicy, { kind: 'key' })
  const identityPolicies = (c.identityPolicies ?? []).map((p, i) => parsePolicy(p, { kind: 'identity', name: `policy-${i}` }))
  return { request, decision: evaluate(request, { keyPolicy, identityPolicies, grants: c.grants ?? [] }) }
}

describe('evaluate: the table of cases', () => {
  it('has at least 200 cases, each with a reason, and unique names', () => {
    assert.ok(CASES.length >= 200, `only ${CASES.length} cases`)
    assert.equal(new Set(CASES.map((c) => c.name)).size, CASES.length)
    for (const c of CASES) assert.ok(c.why.length > 5, c.name)
  })

  it('covers every condition operator', () => {
    const text = JSON.stringify(CASES.map((c) => [c.keyPolicy, c.identityPolicies]))
    for (const op of CONDITION_OPERATORS) assert.ok(text.includes(`"${op}`) || text.includes(`:${op}`), op)
    for (const op of ['IfExists"', 'ForAnyValue:', 'ForAllValues:']) assert.ok(text.includes(op), op)
  })

  for (const c of CASES) {
    it(`${c.name} → ${c.expect}: ${c.why}`, () => {
      const { decision } = run(c)
      assert.equal(decision.decision, c.expect, decision.explanation)
      if (c.decidedBy !== undefined) assert.deepEqual(decision.decidedBy.map(compact), c.decidedBy, decision.explanation)
    })
  }
})

describe('evaluate: explanations and messages', () => {
  const keyPolicy = parsePolicy({ Version: '2012-10-17', Statement: [{ Sid: 'Root', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*', Resource: '*' }] }, { kind: 'key' })
  const request = buildRequest({ ...BASE_FACTS, principal: BOB })

  it('says which side refused, in AWS words, without policy contents', () => {
    const d = evaluate(request, { keyPolicy })
    assert.equal(d.cause, 'no-identity-policy-allow')
    assert.equal(accessDeniedMessage(request, d), `User: ${BOB.arn} is not authorized to perform: kms:Decrypt on resource: ${KEY} because no identity-based policy allows the kms:Decrypt action`)
    const e = accessDenied(request, d)
    assert.equal(e.code, 'AccessDeniedException')
    assert.ok(!e.message.includes('Root'))
  })

  it('names a resource-based policy when the key policy does not allow', () => {
    const d = evaluate(buildRequest({ ...BASE_FACTS, principal: BOB }), { keyPolicy: parsePolicy({ Statement: [{ Effect: 'Allow', Principal: { AWS: ALICE.arn }, Action: 'kms:*', Resource: '*' }] }, { kind: 'key' }) })
    assert.equal(d.cause, 'no-key-policy-allow')
    assert.match(accessDeniedMessage(request, d), /because no resource-based policy allows the kms:Decrypt action$/)
  })

  it('names explicit denies by policy type', () => {
    const denyKey = parsePolicy({ Statement: [{ Effect: 'Deny', Principal: '*', Action: 'kms:*', Resource: '*' }] }, { kind: 'key' })
    const d1 = evaluate(request, { keyPolicy: denyKey })
    assert.match(accessDeniedMessage(request, d1), /with an explicit deny in a resource-based policy$/)
    const denyIam = parsePolicy({ Statement: [{ Effect: 'Deny', Action: 'kms:Decrypt', Resource: '*' }] }, { kind: 'identity', name: 'NoDecrypt' })
    const d2 = evaluate(request, { keyPolicy, identityPolicies: [denyIam] })
    assert.equal(d2.decision, 'ExplicitDeny')
    assert.match(accessDeniedMessage(request, d2), /with an explicit deny in an identity-based policy$/)
    assert.match(d2.explanation, /"NoDecrypt"/)
  })

  it('explains an allow with the statements that took part', () => {
    const d = evaluate(buildRequest({ ...BASE_FACTS, principal: ROOT }), { keyPolicy })
    assert.equal(d.decision, 'Allow')
    assert.match(d.explanation, /statement #0 \("Root"\)/)
  })

  it('Precondition: The caller and the key each belong to a 12-digit account.', () => {
    assert.throws(() => evaluate(buildRequest({ ...BASE_FACTS, principal: { ...ALICE, account: 'alice' } }), { keyPolicy }), TypeError)
  })

  it('Precondition: The key policy is a key policy and the identity policies are identity policies.', () => {
    const identity = parsePolicy({ Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] }, { kind: 'identity' })
    assert.throws(() => evaluate(request, { keyPolicy: identity }), TypeError)
    assert.throws(() => evaluate(request, { keyPolicy, identityPolicies: [keyPolicy] }), TypeError)
  })
})
