import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isKmsError } from '../core/errors.js'
import { parseInput, t } from '../core/shape.js'
import type { KeySpec, KeyUsage } from '../core/types.js'
import type { KeyRecord } from '../store/store.js'
import { aliasEntry, AliasNameType, checkAliasName, checkRetarget, isAliasIdentifier, keyTypeFamily } from './alias-rules.js'

const PREFIX_MESSAGE = 'Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html'

function outcome(f: () => void): string {
  try {
    f()
    return 'OK'
  } catch (e) {
    assert.ok(isKmsError(e), String(e))
    return `${e.code}: ${e.message}`
  }
}

function key(keySpec: KeySpec, keyUsage: KeyUsage, n = 1): KeyRecord {
  return { arn: `arn:aws:kms:us-east-1:111122223333:key/0000000${n}-0000-4000-8000-000000000000`, keySpec, keyUsage } as KeyRecord
}

describe('alias names', () => {
  it('accepts names under alias/, case-sensitively distinct', () => {
    for (const name of ['alias/a', 'alias/App', 'alias/app/prod_1-x', 'alias/awsome', 'alias/AWS/upper', 'alias/aws']) {
      assert.equal(outcome(() => checkAliasName(name)), 'OK', name)
    }
  })

  it('refuses a name without the alias/ prefix with AWS’s ValidationException', () => {
    for (const name of ['app', 'Alias/app', 'aliasapp', 'arn:aws:kms:us-east-1:111122223333:alias/app']) {
      assert.equal(outcome(() => checkAliasName(name)), `ValidationException: ${PREFIX_MESSAGE}`, name)
    }
  })

  it('refuses a colon, which the model’s pattern allows but the service does not', () => {
    assert.equal(outcome(() => checkAliasName('alias/a:b')), 'ValidationException: alias/a:b contains invalid characters for an alias')
  })

  it('reserves alias/aws/ and refuses an empty name', () => {
    assert.match(outcome(() => checkAliasName('alias/aws/s3')), /^InvalidAliasNameException: Alias alias\/aws\/s3 is not valid/)
    assert.match(outcome(() => checkAliasName('alias/aws/')), /^InvalidAliasNameException: /)
    assert.match(outcome(() => checkAliasName('alias/')), /^InvalidAliasNameException: Alias alias\/ is not valid/)
  })

  it('the shape enforces 1..256 characters of [a-zA-Z0-9:/_-] with the model’s wording', () => {
    const shape = t.structure({ AliasName: t.required(AliasNameType) })
    assert.deepEqual(parseInput(shape, { AliasName: `alias/${'x'.repeat(250)}` }), { AliasName: `alias/${'x'.repeat(250)}` })
    assert.equal(
      outcome(() => parseInput(shape, { AliasName: 'alias/a b' })),
      "ValidationException: 1 validation error detected: Value 'alias/a b' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
    )
    assert.match(outcome(() => parseInput(shape, { AliasName: `alias/${'x'.repeat(251)}` })), /Member must have length less than or equal to 256$/)
    assert.match(outcome(() => parseInput(shape, { AliasName: '' })), /Member must have length greater than or equal to 1/)
  })
})

describe('alias identifiers', () => {
  it('tells aliases (name or ARN) from keys (id or ARN)', () => {
    assert.equal(isAliasIdentifier('alias/x'), true)
    assert.equal(isAliasIdentifier('arn:aws:kms:us-east-1:111122223333:alias/x'), true)
    assert.equal(isAliasIdentifier('1234abcd-12ab-34cd-56ef-1234567890ab'), false)
    assert.equal(isAliasIdentifier('arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'), false)
    assert.equal(isAliasIdentifier('arn:nonsense'), false)
  })
})

describe('UpdateAlias retargeting', () => {
  it('groups key specs into symmetric encryption, asymmetric and HMAC', () => {
    assert.equal(keyTypeFamily('SYMMETRIC_DEFAULT'), 'symmetric encryption')
    for (const s of ['HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512'] as const) assert.equal(keyTypeFamily(s), 'HMAC')
    for (const s of ['RSA_2048', 'RSA_4096', 'ECC_NIST_P256', 'ECC_SECG_P256K1', 'ECC_NIST_EDWARDS25519', 'SM2', 'ML_DSA_65'] as const) {
      assert.equal(keyTypeFamily(s), 'asymmetric')
    }
  })

  it('allows the same type and usage, even across asymmetric families and HMAC sizes', () => {
    const alias = 'arn:aws:kms:us-east-1:111122223333:alias/x'
    assert.equal(outcome(() => checkRetarget(alias, key('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT'), key('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', 2))), 'OK')
    assert.equal(outcome(() => checkRetarget(alias, key('RSA_2048', 'SIGN_VERIFY'), key('ECC_NIST_P256', 'SIGN_VERIFY', 2))), 'OK')
    assert.equal(outcome(() => checkRetarget(alias, key('HMAC_256', 'GENERATE_VERIFY_MAC'), key('HMAC_512', 'GENERATE_VERIFY_MAC', 2))), 'OK')
  })

  it('refuses another type or another usage with ValidationException', () => {
    const alias = 'arn:aws:kms:us-east-1:111122223333:alias/x'
    const refused = [
      [key('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT'), key('RSA_2048', 'ENCRYPT_DECRYPT', 2)],
      [key('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT'), key('HMAC_256', 'GENERATE_VERIFY_MAC', 2)],
      [key('RSA_2048', 'ENCRYPT_DECRYPT'), key('RSA_2048', 'SIGN_VERIFY', 2)],
      [key('ECC_NIST_P256', 'SIGN_VERIFY'), key('ECC_NIST_P256', 'KEY_AGREEMENT', 2)],
    ] as const
    for (const [from, to] of refused) {
      const r = outcome(() => checkRetarget(alias, from, to))
      assert.match(r, /^ValidationException: arn:aws:kms:us-east-1:111122223333:alias\/x cannot be updated to /, `${from.keySpec}/${from.keyUsage} → ${to.keySpec}/${to.keyUsage}`)
      assert.ok(r.includes(to.arn) && r.includes(from.arn) && r.includes(to.keyUsage), r)
    }
  })
})

describe('ListAliases entries', () => {
  it('carry the alias ARN and dates in epoch seconds', () => {
    const entry = aliasEntry('aws', {
      accountId: '111122223333',
      region: 'eu-west-1',
      aliasName: 'alias/app',
      targetKeyId: '1234abcd-12ab-34cd-56ef-1234567890ab',
      creationDate: 1_700_000_000_123,
      lastUpdatedDate: 1_700_000_100_000,
    })
    assert.deepEqual(entry, {
      AliasName: 'alias/app',
      AliasArn: 'arn:aws:kms:eu-west-1:111122223333:alias/app',
      TargetKeyId: '1234abcd-12ab-34cd-56ef-1234567890ab',
      CreationDate: 1_700_000_000.123,
      LastUpdatedDate: 1_700_000_100,
    })
  })
})
