import { authorizeIam, listPage, userXml, type IamAction } from './iam-action.js'

export const listUsers: IamAction = {
  name: 'ListUsers',
  service: 'iam',
  async run(ctx, params) {
    await authorizeIam(ctx, 'ListUsers', `arn:${ctx.deps.partition}:iam::${ctx.caller.accountId}:user/`)
    const prefix = params.pathPrefix()
    const users = (await ctx.deps.store.listUsers(ctx.caller.accountId)).filter((u) => u.path.startsWith(prefix))
    const page = listPage(params, users, (u) => u.userName)
    return { Users: page.items.map(userXml), IsTruncated: page.IsTruncated, Marker: page.Marker }
  },
}
