import { aliasArn } from '../../core/arn.js'
import { KmsError } from '../../core/errors.js'
import { t } from '../../core/shape.js'
import { StoreConflictError } from '../../store/store.js'
import { traceKey } from '../deps.js'
import { aliasNotFound, AliasNameType, checkAliasName, checkRetarget, resolveAliasTarget } from '../alias-rules.js'
import { assertKeyState } from '../key-state.js'
import { authorize } from '../authorize.js'
import { defineOperation } from '../operation.js'
import { KeyIdType } from '../shapes.js'

export const updateAlias = defineOperation({
  name: 'UpdateAlias',
  input: t.structure({
    AliasName: t.required(AliasNameType),
    TargetKeyId: t.required(KeyIdType),
  }),
  async run(deps, caller, input) {
    const { store, region, partition } = deps
    const account = caller.accountId
    const name = input.AliasName
    checkAliasName(name)
    const arn = aliasArn(partition, region, account, name)

    const next = await resolveAliasTarget(deps, caller, input.TargetKeyId)
    await authorize(deps, caller, next, 'kms:UpdateAlias')
    const alias = await store.getAlias(account, region, name)
    if (!alias) throw aliasNotFound(arn)
    // The key the alias leaves may be in any state (even pending deletion); the key it moves to may not.
    assertKeyState(next, 'management')
    const current = await store.getKey(alias.targetKeyId)
    if (current) {
      traceKey(caller, current)
      // AWS asks for kms:UpdateAlias on the key the alias leaves as well as on the one it moves to.
      await authorize(deps, caller, current, 'kms:UpdateAlias')
      assertKeyState(current, 'any')
      checkRetarget(arn, current, next)
    }

    let updated: boolean
    try {
      updated = await store.updateAlias(account, region, name, next.keyId, deps.clock.now())
    } catch (e) {
      // The new key was deleted after we read it.
      if (e instanceof StoreConflictError) throw new KmsError('NotFoundException', `Key '${next.arn}' does not exist`)
      throw e
    }
    if (!updated) throw aliasNotFound(arn)
    return {}
  },
})
