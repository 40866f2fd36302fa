import { parsePolicy } from '../../policy/index.js'
import { authorizeIam, IamError, noSuchUser, userArn, type IamAction } from './iam-action.js'

/** AWS's limit on the size of a user's inline policy document. */
const MAX_POLICY_CHARS = 2048

export const putUserPolicy: IamAction = {
  name: 'PutUserPolicy',
  service: 'iam',
  async run(ctx, params) {
    const userName = params.name('UserName', 128)
    const policyName = params.name('PolicyName', 128)
    const document = params.required('PolicyDocument')
    await authorizeIam(ctx, 'PutUserPolicy', userArn(ctx, userName))
    if (document.replace(/\s/g, '').length > MAX_POLICY_CHARS) {
      throw new IamError('LimitExceeded', `Maximum policy size of ${MAX_POLICY_CHARS} bytes exceeded for user ${userName}`, 409)
    }
    try {
      parsePolicy(document, { kind: 'identity', name: policyName })
    } catch (e) {
      throw new IamError('MalformedPolicyDocument', e instanceof Error ? e.message : 'Syntax errors in policy.')
    }
    if (!(await ctx.deps.store.putUserPolicy({ accountId: ctx.caller.accountId, userName, policyName, document }))) throw noSuchUser(userName)
    return undefined
  },
}
