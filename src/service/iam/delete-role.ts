import { authorizeIam, existingRoleArn, IamError, noSuchRole, type IamAction } from './iam-action.js'

export const deleteRole: IamAction = {
  name: 'DeleteRole',
  service: 'iam',
  async run(ctx, params) {
    const roleName = params.name('RoleName', 64)
    await authorizeIam(ctx, 'DeleteRole', await existingRoleArn(ctx, roleName))
    const sessions = await ctx.deps.store.listRoleSessionIds(ctx.caller.accountId, roleName)
    const outcome = await ctx.deps.store.deleteRole(ctx.caller.accountId, roleName)
    if (outcome === 'missing') throw noSuchRole(roleName)
    if (outcome === 'conflict') throw new IamError('DeleteConflict', 'Cannot delete entity, must delete policies first.', 409)
    // Its sessions end with it: drop their signing keys from this node's caches too (a session
    // issued meanwhile is refused at its first lookup, which checks the role still exists).
    for (const id of sessions) ctx.forgetAccessKey(id)
    return undefined
  },
}
