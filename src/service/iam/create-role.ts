import { authorizeIam, checkTrustPolicy, IamError, newRoleId, ROLE_DESCRIPTION, ROLE_SESSION_SECONDS, roleArn, roleXml, type IamAction } from './iam-action.js'

export const createRole: IamAction = {
  name: 'CreateRole',
  service: 'iam',
  async run(ctx, params) {
    const roleName = params.name('RoleName', 64)
    const trustPolicy = params.required('AssumeRolePolicyDocument')
    const path = params.optional('Path') ?? '/'
    if (path !== '/') throw new IamError('ValidationError', 'Trent supports only the path "/" for roles.')
    const description = params.optional('Description')
    if (description !== undefined) params.text('Description', 0, ROLE_DESCRIPTION.max, ROLE_DESCRIPTION.pattern, ROLE_DESCRIPTION.shown)
    const maxSessionDuration = params.integer('MaxSessionDuration', ROLE_SESSION_SECONDS.min, ROLE_SESSION_SECONDS.max) ?? ROLE_SESSION_SECONDS.default
    const arn = roleArn(ctx, roleName)
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
      maxSessionDuration,
      ...(description === undefined ? {} : { description }),
    }
    if (!(await ctx.deps.store.createRole(role))) throw new IamError('EntityAlreadyExists', `Role with name ${roleName} already exists.`, 409)
    return { Role: roleXml(role) }
  },
}
