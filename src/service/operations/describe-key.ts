import { t } from '../../core/shape.js'
import { authorize, requestAlias } from '../authorize.js'
import { keyMetadata } from '../key-metadata.js'
import { defineOperation } from '../operation.js'
import { resolveKey } from '../resolve-key.js'
import { GrantTokenList, KeyIdType } from '../shapes.js'

export const describeKey = defineOperation({
  name: 'DescribeKey',
  input: t.structure({
    KeyId: t.required(KeyIdType),
    GrantTokens: t.optional(GrantTokenList),
  }),
  // GrantTokens are accepted and ignored: AWS's DescribeKey does not answer InvalidGrantTokenException
  // (service model), and Trent applies grants at once.
  async run(deps, caller, input) {
    const key = await resolveKey(deps, caller, input.KeyId, { allowAlias: true, crossAccount: true })
    await authorize(deps, caller, key, 'kms:DescribeKey', requestAlias(input.KeyId))
    return { KeyMetadata: keyMetadata(key) }
  },
})
