import { randomUUID } from 'node:crypto'
import { keyArn } from '../../core/arn.js'
import { KmsError } from '../../core/errors.js'
import { t } from '../../core/shape.js'
import { KEY_SPEC_RULES, UNSUPPORTED_KEY_SPECS } from '../../core/key-specs.js'
import { KEY_SPECS, KEY_USAGES, ORIGINS } from '../../core/types.js'
import type { KeyRecord } from '../../store/store.js'
import { checkKeyPolicy, defaultKeyPolicy } from '../key-policy.js'
import { keyMetadata } from '../key-metadata.js'
import { checkLockoutSafety } from '../../policy/index.js'
import { identityPoliciesOf, requestPrincipal } from '../authorize.js'
import { defineOperation } from '../operation.js'
import { PolicyType } from '../shapes.js'
import { checkTags, TagList } from '../tags.js'

export const createKey = defineOperation({
  name: 'CreateKey',
  input: t.structure({
    Policy: t.optional(PolicyType),
    Description: t.optional(t.string({ min: 0, max: 8192 })),
    KeyUsage: t.optional(t.enum(KEY_USAGES)),
    CustomerMasterKeySpec: t.optional(t.enum(KEY_SPECS.filter((s) => !s.startsWith('ML_DSA')))),
    KeySpec: t.optional(t.enum(KEY_SPECS)),
    Origin: t.optional(t.enum(ORIGINS)),
    CustomKeyStoreId: t.optional(t.string({ min: 1, max: 64 })),
    BypassPolicyLockoutSafetyCheck: t.optional(t.boolean()),
    Tags: t.optional(TagList),
    MultiRegion: t.optional(t.boolean()),
    XksKeyId: t.optional(t.string({ min: 1, max: 128, pattern: /^[a-zA-Z0-9-_.]+$/ })),
  }),
  async run(deps, caller, input) {
    if (input.KeySpec !== undefined && input.CustomerMasterKeySpec !== undefined) {
      throw new KmsError('ValidationException', 'You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.')
    }
    const keySpec = input.KeySpec ?? input.CustomerMasterKeySpec ?? 'SYMMETRIC_DEFAULT'
    if (input.KeyUsage === undefined && keySpec !== 'SYMMETRIC_DEFAULT') {
      throw new KmsError('ValidationException', 'You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.')
    }
    const keyUsage = input.KeyUsage ?? 'ENCRYPT_DECRYPT'
    if (!KEY_SPEC_RULES[keySpec].usages.includes(keyUsage)) throw new KmsError('ValidationException', `KeyUsage ${keyUsage} is not compatible with KeySpec ${keySpec}`)
    const unsupported = UNSUPPORTED_KEY_SPECS[keySpec]
    if (unsupported !== undefined) throw new KmsError('UnsupportedOperationException', unsupported)
    const origin = input.Origin ?? 'AWS_KMS'
    if (origin !== 'AWS_KMS' && origin !== 'EXTERNAL') throw new KmsError('UnsupportedOperationException', `Origin ${origin} is not supported by this Trent version.`)
    if (input.CustomKeyStoreId !== undefined || input.XksKeyId !== undefined) {
      throw new KmsError('UnsupportedOperationException', 'Custom key stores are not supported by this Trent version.')
    }
    if (input.MultiRegion) throw new KmsError('UnsupportedOperationException', 'Multi-Region keys are not supported by this Trent version.')
    const tags = input.Tags ?? []
    checkTags(tags)
    const policy = input.Policy ?? defaultKeyPolicy(deps.partition, caller.accountId)
    const parsedPolicy = checkKeyPolicy(policy)

    const keyId = randomUUID()
    const arn = keyArn(deps.partition, deps.region, caller.accountId, keyId)
    checkLockoutSafety({
      keyPolicy: parsedPolicy,
      principal: requestPrincipal(caller),
      resource: { arn, account: caller.accountId, keySpec, keyUsage, keyOrigin: origin, tags: Object.fromEntries(tags.map((t) => [t.TagKey, t.TagValue])) },
      identityPolicies: (await identityPoliciesOf(deps, caller)) ?? [],
      bypass: input.BypassPolicyLockoutSafetyCheck ?? false,
    })
    // A key for imported material (BYOK) has none until ImportKeyMaterial.
    const material = origin === 'EXTERNAL' ? undefined : await deps.hsm.generateKeyMaterial({ keyArn: arn, keyId, keySpec, origin })
    const now = deps.clock.now()
    const keyMaterialId = material && Buffer.from(material.hbkId).toString('hex')
    const key: KeyRecord = {
      keyId,
      arn,
      accountId: caller.accountId,
      region: deps.region,
      creationDate: now,
      description: input.Description ?? '',
      keyUsage,
      keySpec,
      origin,
      keyState: material ? 'Enabled' : 'PendingImport',
      keyManager: 'CUSTOMER',
      multiRegion: false,
      ...(keyMaterialId === undefined ? {} : { currentKeyMaterialId: keyMaterialId }),
      policy,
      tags,
      version: 1,
    }
    await deps.store.createKey(key, material && keyMaterialId !== undefined ? { keyId, keyMaterialId, ekt: material.ekt, createdAt: now } : undefined)
    return { KeyMetadata: keyMetadata(key) }
  },
})
