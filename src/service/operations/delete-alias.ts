import { aliasArn } from '../../core/arn.js'
import { t } from '../../core/shape.js'
import { traceKey } from '../deps.js'
import { aliasNotFound, AliasNameType, checkAliasName } from '../alias-rules.js'
import { authorize } from '../authorize.js'
import { defineOperation } from '../operation.js'

export const deleteAlias = defineOperation({
  name: 'DeleteAlias',
  input: t.structure({
    AliasName: t.required(AliasNameType),
  }),
  async run(deps, caller, input) {
    checkAliasName(input.AliasName)
    // DeleteAlias works whatever the state of the key, but the caller needs kms:DeleteAlias on it.
    const alias = await deps.store.getAlias(caller.accountId, deps.region, input.AliasName)
    const key = alias && (await deps.store.getKey(alias.targetKeyId))
    if (key) traceKey(caller, key)
    if (key) await authorize(deps, caller, key, 'kms:DeleteAlias')
    const deleted = await deps.store.deleteAlias(caller.accountId, deps.region, input.AliasName)
    if (!deleted) throw aliasNotFound(aliasArn(deps.partition, deps.region, caller.accountId, input.AliasName))
    return {}
  },
})
