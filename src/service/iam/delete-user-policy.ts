import { authorizeIam, existingUserArn, IamError, noSuchUser, type IamAction } from './iam-action.js'

export const deleteUserPolicy: IamAction = {
  name: 'DeleteUserPolicy',
  service: 'iam',
  async run(ctx, params) {
    const userName = params.name('UserName', 128)
    const policyName = params.name('PolicyName', 128)
    await authorizeIam(ctx, 'DeleteUserPolicy', await existingUserArn(ctx, userName))
    if (!(await ctx.deps.store.deleteUserPolicy(ctx.caller.accountId, userName, policyName))) {
      if (!(await ctx.deps.store.getUser(ctx.caller.accountId, userName))) throw noSuchUser(userName)
      throw new IamError('NoSuchEntity', `The user policy with name ${policyName} cannot be found.`, 404)
    }
    return undefined
  },
}
