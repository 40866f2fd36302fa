import { authorizeIam, existingRoleArn, IamError, noSuchRole, type IamAction } from './iam-action.js'

export const deleteRolePolicy: IamAction = {
  name: 'DeleteRolePolicy',
  service: 'iam',
  async run(ctx, params) {
    const roleName = params.name('RoleName', 64)
    const policyName = params.name('PolicyName', 128)
    await authorizeIam(ctx, 'DeleteRolePolicy', await existingRoleArn(ctx, roleName))
    if (!(await ctx.deps.store.deleteRolePolicy(ctx.caller.accountId, roleName, policyName))) {
      if (!(await ctx.deps.store.getRole(ctx.caller.accountId, roleName))) throw noSuchRole(roleName)
      throw new IamError('NoSuchEntity', `The role policy with name ${policyName} cannot be found.`, 404)
    }
    return undefined
  },
}
