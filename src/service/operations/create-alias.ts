import { aliasArn } from '../../core/arn.js'
import { KmsError } from '../../core/errors.js'
import { t } from '../../core/shape.js'
import { StoreConflictError } from '../../store/store.js'
import { AliasNameType, checkAliasName, MAX_ALIASES_PER_KEY, resolveAliasTarget } from '../alias-rules.js'
import { assertKeyState } from '../key-state.js'
import { authorize } from '../authorize.js'
import { defineOperation } from '../operation.js'
import { KeyIdType } from '../shapes.js'

export const createAlias = defineOperation({
  name: 'CreateAlias',
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
    const alreadyExists = () => new KmsError('AlreadyExistsException', `An alias with the name ${arn} already exists`)

    const key = await resolveAliasTarget(deps, caller, input.TargetKeyId)
    await authorize(deps, caller, key, 'kms:CreateAlias')
    if (await store.getAlias(account, region, name)) throw alreadyExists()
    assertKeyState(key, 'management')
    // Checked before the insert, so two concurrent CreateAlias calls can together pass the quota by one.
    const existing = await store.listAliases(account, region, { keyId: key.keyId, limit: MAX_ALIASES_PER_KEY })
    if (existing.aliases.length >= MAX_ALIASES_PER_KEY) {
      throw new KmsError('LimitExceededException', `The KMS key ${key.arn} already has the maximum of ${MAX_ALIASES_PER_KEY} aliases.`)
    }

    const now = deps.clock.now()
    let created: boolean
    try {
      created = await store.createAlias({ accountId: account, region, aliasName: name, targetKeyId: key.keyId, creationDate: now, lastUpdatedDate: now })
    } catch (e) {
      // The key was deleted after we read it.
      if (e instanceof StoreConflictError) throw new KmsError('NotFoundException', `Key '${key.arn}' does not exist`)
      throw e
    }
    if (!created) throw alreadyExists()
    return {}
  },
})
