import { authorizeIam, checkInlinePolicy, existingRoleArn, noSuchRole, type IamAction } from './iam-action.js'

/** AWS's limit on the size of a role's inline policies. */
const MAX_POLICY_CHARS = 10240

export const putRolePolicy: IamAction = {
  name: 'PutRolePolicy',
  service: 'iam',
  async run(ctx, params) {
    const roleName = params.name('RoleName', 64)
    const policyName = params.name('PolicyName', 128)
    const document = params.required('PolicyDocument')
    await authorizeIam(ctx, 'PutRolePolicy', await existingRoleArn(ctx, roleName))
    checkInlinePolicy(document, policyName, MAX_POLICY_CHARS, `role ${roleName}`)
    if (!(await ctx.deps.store.putRolePolicy({ accountId: ctx.caller.accountId, roleName, policyName, document }))) throw noSuchRole(roleName)
    return undefined
  },
}
