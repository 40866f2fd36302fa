import { authorizeIam, existingUserArn, IamError, noSuchUser, type IamAction } from './iam-action.js'

export const getUserPolicy: IamAction = {
  name: 'GetUserPolicy',
  service: 'iam',
  async run(ctx, params) {
    const userName = params.name('UserName', 128)
    const policyName = params.name('PolicyName', 128)
    await authorizeIam(ctx, 'GetUserPolicy', await existingUserArn(ctx, userName))
    const policy = await ctx.deps.store.getUserPolicy(ctx.caller.accountId, userName, policyName)
    if (!policy) {
      if (!(await ctx.deps.store.getUser(ctx.caller.accountId, userName))) throw noSuchUser(userName)
      throw new IamError('NoSuchEntity', `The user policy with name ${policyName} cannot be found.`, 404)
    }
    // AWS returns the document URL-encoded (RFC 3986); the CLI and SDKs decode it.
    return { UserName: userName, PolicyName: policyName, PolicyDocument: encodeURIComponent(policy.document) }
  },
}
