import { authorizeIam, existingUserArn, IamError, noSuchUser, type IamAction } from './iam-action.js'

export const deleteUser: IamAction = {
  name: 'DeleteUser',
  service: 'iam',
  async run(ctx, params) {
    const userName = params.name('UserName', 64)
    await authorizeIam(ctx, 'DeleteUser', await existingUserArn(ctx, userName))
    const outcome = await ctx.deps.store.deleteUser(ctx.caller.accountId, userName)
    if (outcome === 'missing') throw noSuchUser(userName)
    if (outcome === 'conflict') {
      const keys = await ctx.deps.store.listUserCredentials(ctx.caller.accountId, userName)
      throw new IamError('DeleteConflict', `Cannot delete entity, must ${keys.length > 0 ? 'delete access keys' : 'delete policies'} first.`, 409)
    }
    return undefined
  },
}
