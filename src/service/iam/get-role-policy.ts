import { authorizeIam, existingRoleArn, IamError, noSuchRole, type IamAction } from './iam-action.js'

export const getRolePolicy: IamAction = {
  name: 'GetRolePolicy',
  service: 'iam',
  async run(ctx, params) {
    const roleName = params.name('RoleName', 64)
    const policyName = params.name('PolicyName', 128)
    await authorizeIam(ctx, 'GetRolePolicy', await existingRoleArn(ctx, roleName))
    const policy = await ctx.deps.store.getRolePolicy(ctx.caller.accountId, roleName, policyName)
    if (!policy) {
      if (!(await ctx.deps.store.getRole(ctx.caller.accountId, roleName))) throw noSuchRole(roleName)
      throw new IamError('NoSuchEntity', `The role policy with name ${policyName} cannot be found.`, 404)
    }
    // AWS returns the document URL-encoded (RFC 3986); the CLI and SDKs decode it.
    return { RoleName: roleName, PolicyName: policyName, PolicyDocument: encodeURIComponent(policy.document) }
  },
}
