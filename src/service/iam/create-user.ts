import { authorizeIam, IamError, newUserId, tagsXml, userArn, userXml, type IamAction } from './iam-action.js'
import { tagsParam } from './tags.js'

export const createUser: IamAction = {
  name: 'CreateUser',
  service: 'iam',
  async run(ctx, params) {
    const userName = params.name('UserName', 64)
    const path = params.path('Path')
    const tags = tagsParam(params)
    const arn = userArn(ctx, userName, path)
    await authorizeIam(ctx, 'CreateUser', arn)
    const user = { accountId: ctx.caller.accountId, userName, userId: newUserId(), arn, path, createdAt: ctx.deps.clock.now(), ...(tags.length > 0 ? { tags } : {}) }
    if (!(await ctx.deps.store.createUser(user))) throw new IamError('EntityAlreadyExists', `User with name ${userName} already exists.`, 409)
    return { User: { ...userXml(user), Tags: tagsXml(user.tags) } }
  },
}
