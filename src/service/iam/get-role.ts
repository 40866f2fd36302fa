import { authorizeIam, existingRoleArn, noSuchRole, roleXml, tagsXml, type IamAction } from './iam-action.js'

export const getRole: IamAction = {
  name: 'GetRole',
  service: 'iam',
  async run(ctx, params) {
    const roleName = params.name('RoleName', 64)
    await authorizeIam(ctx, 'GetRole', await existingRoleArn(ctx, roleName))
    const role = await ctx.deps.store.getRole(ctx.caller.accountId, roleName)
    if (!role) throw noSuchRole(roleName)
    return { Role: { ...roleXml(role), Tags: tagsXml(role.tags) } }
  },
}
