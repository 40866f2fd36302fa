import { aliasArn } from '../../core/arn.js'
import { t } from '../../core/shape.js'
import { aliasNotFound, AliasNameType, checkAliasName } from '../alias-rules.js'
import { defineOperation } from '../operation.js'

export const deleteAlias = defineOperation({
  name: 'DeleteAlias',
  input: t.structure({
    AliasName: t.required(AliasNameType),
  }),
  async run(deps, caller, input) {
    checkAliasName(input.AliasName)
    // DeleteAlias works whatever the state of the key the alias points at, so the key is not read.
    const deleted = await deps.store.deleteAlias(caller.accountId, deps.region, input.AliasName)
    if (!deleted) throw aliasNotFound(aliasArn(deps.partition, deps.region, caller.accountId, input.AliasName))
    return {}
  },
})
