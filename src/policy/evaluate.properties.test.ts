/**
 * Property tests over random policy sets and requests, drawn from a seeded PRNG so every failure
 * can be replayed: `PROPERTY_SEED=<n>` fixes the seed, `PROPERTY_RUNS=<n>` the number of runs.
 */

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { buildRequest, type RequestFacts } from './context.js'
import { evaluate, type Decision } from './evaluate.js'
import type { Grant } from './grants.js'
import { parsePolicy } from './policy-document.js'
import { A, ALICE, B, BASE_FACTS, BOB, CAROL, KEY, OTHER_KEY, ROLE_ARN, ROOT, ROOT_B, SESSION } from './evaluate.cases.js'

const SEED = Number(process.env['PROPERTY_SEED'] ?? 20240601)
const RUNS = Number(process.env['PROPERTY_RUNS'] ?? 1000)

/** mulberry32: a small, fast 32-bit PRNG; good enough to spread test inputs. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Json = Record<string, unknown>

class Gen {
  readonly random: () => number
  constructor(random: () => number) {
    this.random = random
  }
  int(n: number): number {
    return Math.floor(this.random() * n)
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!
  }
  chance(p: number): boolean {
    return this.random() < p
  }
  shuffle<T>(xs: readonly T[]): T[] {
    const out = [...xs]
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      ;[out[i], out[j]] = [out[j]!, out[i]!]
    }
    return out
  }

  principal(): unknown {
    return this.pick<unknown>([
      '*', { AWS: '*' }, { AWS: A }, { AWS: `arn:aws:iam::${A}:root` }, { AWS: B }, { AWS: ALICE.arn }, { AWS: BOB.arn },
      { AWS: ROLE_ARN }, { AWS: SESSION.arn }, { AWS: CAROL.arn }, { AWS: [ALICE.arn, A] }, { AWS: [SESSION.arn, ROLE_ARN, A] },
    ])
  }
  actions(): Json {
    const v = this.pick<unknown>(['kms:*', '*', 'kms:Decrypt', 'kms:Encrypt', 'kms:*crypt', 'kms:Describe*', ['kms:Decrypt', 'kms:PutKeyPolicy'], 'kms:PutKeyPolicy', 'kms:CreateGrant'])
    return this.chance(0.15) ? { NotAction: v } : { Action: v }
  }
  resources(identity: boolean): Json {
    const v = this.pick<unknown>(['*', KEY, OTHER_KEY, `arn:aws:kms:*:${A}:key/*`, `arn:aws:kms:us-east-1:*:key/\${aws:PrincipalTag/keyid}`])
    if (!identity && this.chance(0.1)) return { NotResource: OTHER_KEY }
    return { Resource: v }
  }
  condition(): Json | undefined {
    if (this.chance(0.5)) return undefined
    return this.pick<Json>([
      { StringEquals: { 'kms:EncryptionContext:AppName': 'ExampleApp' } },
      { StringEquals: { 'kms:EncryptionContext:AppName': 'Other' } },
      { StringNotEquals: { 'kms:EncryptionContext:Dept': 'ops' } },
      { StringLike: { 'kms:EncryptionContext:AppName': 'Ex*' } },
      { Bool: { 'aws:SecureTransport': 'false' } },
      { Bool: { 'aws:SecureTransport': 'true' } },
      { IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } },
      { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
      { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['AppName', 'Dept'] } },
      { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': 'alias/app' } },
      { Null: { 'kms:EncryptionContextKeys': 'false' } },
      { DateLessThan: { 'aws:CurrentTime': '2025-01-01' } },
      { StringEqualsIfExists: { 'kms:ViaService': 'ec2.us-east-1.amazonaws.com' } },
      { StringEquals: { 'aws:PrincipalTag/team': '${aws:PrincipalTag/team}', 'kms:CallerAccount': A } },
      { ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${A}:*` } },
    ])
  }
  statement(kind: 'key' | 'identity', effect?: 'Allow' | 'Deny'): Json {
    const s: Json = { Effect: effect ?? (this.chance(0.7) ? 'Allow' : 'Deny'), ...this.actions(), ...this.resources(kind === 'identity') }
    if (kind === 'key') {
      if (this.chance(0.1)) s['NotPrincipal'] = this.principal()
      else s['Principal'] = this.principal()
    }
    const c = this.condition()
    if (c) s['Condition'] = c
    return s
  }
  grant(i: number): Grant {
    const grantee = this.pick([ALICE.arn, BOB.arn, ROLE_ARN, SESSION.arn, CAROL.arn, `arn:aws:iam::${A}:root`])
    const operations = this.shuffle(['Decrypt', 'Encrypt', 'DescribeKey', 'CreateGrant', 'GenerateDataKey']).slice(0, 1 + this.int(3))
    const constraints = this.pick([undefined, { encryptionContextSubset: { Dept: 'eng' } }, { encryptionContextEquals: { AppName: 'ExampleApp' } }])
    return { grantId: `g${i}`, granteePrincipal: grantee, operations, keyArn: this.chance(0.9) ? KEY : OTHER_KEY, ...(constraints ? { constraints } : {}) }
  }
  policySet(): PolicyDocs {
    const keyStatements = Array.from({ length: 1 + this.int(5) }, () => this.statement('key'))
    const identity = Array.from({ length: this.int(3) }, () => Array.from({ length: 1 + this.int(3) }, () => this.statement('identity')))
    const grants = Array.from({ length: this.int(4) }, (_, i) => this.grant(i))
    return { key: keyStatements, identity, grants }
  }
  facts(): RequestFacts {
    const principal = this.pick([ALICE, BOB, ROOT, SESSION, CAROL, ROOT_B])
    const action = this.pick(['kms:Decrypt', 'kms:Encrypt', 'kms:PutKeyPolicy', 'kms:DescribeKey', 'kms:CreateGrant', 'kms:GenerateDataKey'])
    const ec = this.pick([undefined, {}, { AppName: 'ExampleApp', Dept: 'eng' }, { AppName: 'Other' }])
    const { encryptionContext: _, ...rest } = BASE_FACTS
    return {
      ...rest,
      principal,
      action,
      sourceIp: this.pick(['203.0.113.7', '10.1.2.3', '2001:db8::1']),
      secureTransport: this.chance(0.8),
      ...(ec ? { encryptionContext: ec } : {}),
      ...(this.chance(0.2) ? { viaService: 'ec2.us-east-1.amazonaws.com' } : {}),
    }
  }
}

interface PolicyDocs {
  key: Json[]
  identity: Json[][]
  grants: Grant[]
}

const doc = (Statement: Json[]) => ({ Version: '2012-10-17', Statement })

function decide(docs: PolicyDocs, facts: RequestFacts): Decision {
  const keyPolicy = parsePolicy(doc(docs.key), { kind: 'key' })
  const identityPolicies = docs.identity.map((s) => parsePolicy(doc(s), { kind: 'identity' }))
  return evaluate(buildRequest(facts), { keyPolicy, identityPolicies, grants: docs.grants })
}

/** Runs `body` RUNS times with a fresh generator per run; failures report the seed and run. */
function forAll(name: string, body: (g: Gen, run: number) => void): void {
  it(`${name} (seed ${SEED}, ${RUNS} runs)`, () => {
    const random = prng(SEED)
    for (let run = 0; run < RUNS; run++) {
      const g = new Gen(random)
      try {
        body(g, run)
      } catch (e) {
        throw new Error(`run ${run} (PROPERTY_SEED=${SEED}): ${(e as Error).message}`, { cause: e })
      }
    }
  })
}

/** Adds a statement to the key policy or to one of the identity policies (making one if needed). */
function withStatement(g: Gen, docs: PolicyDocs, effect: 'Allow' | 'Deny'): PolicyDocs {
  if (g.chance(0.5)) return { ...docs, key: [...docs.key, g.statement('key', effect)] }
  const identity = docs.identity.length === 0 ? [[]] : docs.identity.map((s) => [...s])
  const i = g.int(identity.length)
  identity[i] = [...identity[i]!, g.statement('identity', effect)]
  return { ...docs, identity }
}

const namesAccount = (v: unknown): boolean => v === A || v === `arn:aws:iam::${A}:root`

/** Removes the key's own account from every Allow statement's Principal; drops statements left empty. */
function withoutRootTrust(docs: PolicyDocs): PolicyDocs {
  const key: Json[] = []
  for (const s of docs.key) {
    const p = s['Principal']
    if (s['Effect'] !== 'Allow' || typeof p !== 'object' || p === null) {
      key.push(s)
      continue
    }
    const awsValue = (p as Json)['AWS']
    const list = (Array.isArray(awsValue) ? awsValue : [awsValue]).filter((v) => !namesAccount(v))
    if (list.length === 0) continue
    key.push({ ...s, Principal: { AWS: list.length === 1 ? list[0] : list } })
  }
  return { ...docs, key: key.length > 0 ? key : [{ Effect: 'Deny', Principal: '*', Action: 'kms:*', Resource: OTHER_KEY }] }
}

describe('evaluate: properties', () => {
  forAll('adding a Deny statement never turns a denial into an Allow, nor lifts an explicit deny', (g) => {
    const docs = g.policySet()
    const facts = g.facts()
    const before = decide(docs, facts)
    const after = decide(withStatement(g, docs, 'Deny'), facts)
    if (before.decision !== 'Allow') assert.notEqual(after.decision, 'Allow', `${before.explanation} → ${after.explanation}`)
    if (before.decision === 'ExplicitDeny') assert.equal(after.decision, 'ExplicitDeny')
  })

  forAll('adding an Allow statement or a grant never turns an explicit Deny into an Allow', (g) => {
    const docs = g.policySet()
    const facts = g.facts()
    const before = decide(docs, facts)
    const more = g.chance(0.3) ? { ...docs, grants: [...docs.grants, g.grant(99)] } : withStatement(g, docs, 'Allow')
    const after = decide(more, facts)
    if (before.decision === 'ExplicitDeny') assert.equal(after.decision, 'ExplicitDeny', after.explanation)
    if (before.decision === 'Allow') assert.equal(after.decision, 'Allow', 'an Allow cannot take access away')
  })

  forAll('the decision does not depend on the order of statements, policies or grants', (g) => {
    const docs = g.policySet()
    const facts = g.facts()
    const before = decide(docs, facts)
    const shuffled = { key: g.shuffle(docs.key), identity: g.shuffle(docs.identity.map((s) => g.shuffle(s))), grants: g.shuffle(docs.grants) }
    const after = decide(shuffled, facts)
    assert.equal(after.decision, before.decision, `${before.explanation} / ${after.explanation}`)
    assert.equal(after.cause, before.cause)
  })

  forAll('removing the account-root trust from the key policy never adds access', (g) => {
    const docs = g.policySet()
    if (g.chance(0.5)) docs.key.push({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:root` }, Action: 'kms:*', Resource: '*' })
    const facts = g.facts()
    const before = decide(docs, facts)
    const after = decide(withoutRootTrust(docs), facts)
    if (before.decision !== 'Allow') assert.notEqual(after.decision, 'Allow', after.explanation)
  })

  forAll('a request from another account is never allowed by the key policy alone', (g) => {
    const docs = g.policySet()
    const facts = { ...g.facts(), principal: CAROL }
    const d = decide({ ...docs, identity: [], grants: [] }, facts)
    assert.notEqual(d.decision, 'Allow', d.explanation)
  })
})
