import { parsePolicy } from '../../policy/index.js'
import { authorizeIam, IamError, noSuchRole, roleArn, type IamAction } from './iam-action.js'

/** AWS's limit on the size of a role's inline policies. */
const MAX_POLICY_CHARS = 10240

export const putRolePolicy: IamAction = {
  name: 'PutRolePolicy',
  service: 'iam',
  async run(ctx, params) {
    const roleName = params.name('RoleName', 64)
    const policyName = params.name('PolicyName', 128)
    const document = params.required('PolicyDocument')
    await authorizeIam(ctx, 'PutRolePolicy', roleArn(ctx, roleName))
    if (document.replace(/\s/g, '').length > MAX_POLICY_CHARS) {
      throw new IamError('LimitExceeded', `Maximum policy size of ${MAX_POLICY_CHARS} bytes exceeded for role ${roleName}`, 409)
    }
    try {
      parsePolicy(document, { kind: 'identity', name: policyName })
    } catch (e) {
      throw new IamError('MalformedPolicyDocument', e instanceof Error ? e.message : 'Syntax errors in policy.')
    }
    if (!(await ctx.deps.store.putRolePolicy({ accountId: ctx.caller.accountId, roleName, policyName, document }))) throw noSuchRole(roleName)
    return undefined
  },
}
