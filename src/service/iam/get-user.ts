import { authorizeIam, existingUserArn, noSuchUser, targetUserName, tagsXml, userXml, type IamAction } from './iam-action.js'

export const getUser: IamAction = {
  name: 'GetUser',
  service: 'iam',
  async run(ctx, params) {
    const userName = targetUserName(ctx, params)
    await authorizeIam(ctx, 'GetUser', await existingUserArn(ctx, userName))
    const user = await ctx.deps.store.getUser(ctx.caller.accountId, userName)
    if (!user) throw noSuchUser(userName)
    return { User: { ...userXml(user), Tags: tagsXml(user.tags) } }
  },
}
