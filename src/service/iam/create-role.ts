import { authorizeIam, IamError, newRoleId, parseTrustPolicy, roleArn, roleXml, type IamAction } from './iam-action.js'

/** AWS's limit on the size of a trust policy. */
const MAX_TRUST_POLICY_CHARS = 2048

export const createRole: IamAction = {
  name: 'CreateRole',
  service: 'iam',
  async run(ctx, params) {
    const roleName = params.name('RoleName', 64)
    const trustPolicy = params.required('AssumeRolePolicyDocument')
    const path = params.optional('Path') ?? '/'
    if (path !== '/') throw new IamError('ValidationError', 'Trent supports only the path "/" for roles.')
    const arn = roleArn(ctx, roleName)
    await authorizeIam(ctx, 'CreateRole', arn)
    if (trustPolicy.replace(/\s/g, '').length > MAX_TRUST_POLICY_CHARS) {
      throw new IamError('LimitExceeded', `Cannot exceed quota for ACLSizePerRole: ${MAX_TRUST_POLICY_CHARS}`, 409)
    }
    parseTrustPolicy(trustPolicy)
    const role = { accountId: ctx.caller.accountId, roleName, roleId: newRoleId(), arn, path, trustPolicy, createdAt: ctx.deps.clock.now() }
    if (!(await ctx.deps.store.createRole(role))) throw new IamError('EntityAlreadyExists', `Role with name ${roleName} already exists.`, 409)
    return { Role: roleXml(role) }
  },
}
