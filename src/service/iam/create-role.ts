import { authorizeIam, checkTrustPolicy, IamError, newRoleId, ROLE_SESSION_SECONDS, roleArn, roleSettings, roleXml, tagsXml, type IamAction } from './iam-action.js'
import { tagsParam } from './tags.js'

export const createRole: IamAction = {
  name: 'CreateRole',
  service: 'iam',
  async run(ctx, params) {
    const roleName = params.name('RoleName', 64)
    const trustPolicy = params.required('AssumeRolePolicyDocument')
    const path = params.path('Path')
    const settings = roleSettings(params)
    const tags = tagsParam(params)
    const arn = roleArn(ctx, roleName, path)
    await authorizeIam(ctx, 'CreateRole', arn)
    checkTrustPolicy(trustPolicy)
    const role = {
      accountId: ctx.caller.accountId,
      roleName,
      roleId: newRoleId(),
      arn,
      path,
      trustPolicy,
      createdAt: ctx.deps.clock.now(),
      maxSessionDuration: ROLE_SESSION_SECONDS.default,
      ...settings,
      ...(tags.length > 0 ? { tags } : {}),
    }
    if (!(await ctx.deps.store.createRole(role))) throw new IamError('EntityAlreadyExists', `Role with name ${roleName} already exists.`, 409)
    return { Role: { ...roleXml(role), Tags: tagsXml(role.tags) } }
  },
}
