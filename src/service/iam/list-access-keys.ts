import { authorizeIam, existingUserArn, isoDate, noSuchUser, targetUserName, type IamAction } from './iam-action.js'

export const listAccessKeys: IamAction = {
  name: 'ListAccessKeys',
  service: 'iam',
  async run(ctx, params) {
    const userName = targetUserName(ctx, params)
    await authorizeIam(ctx, 'ListAccessKeys', await existingUserArn(ctx, userName))
    if (!(await ctx.deps.store.getUser(ctx.caller.accountId, userName))) throw noSuchUser(userName)
    const keys = await ctx.deps.store.listUserCredentials(ctx.caller.accountId, userName)
    return {
      AccessKeyMetadata: keys.map((k) => ({ UserName: userName, AccessKeyId: k.accessKeyId, Status: 'Active', CreateDate: isoDate(k.createdAt) })),
      IsTruncated: false,
    }
  },
}
