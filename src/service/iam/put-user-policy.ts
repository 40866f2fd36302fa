import { authorizeIam, checkInlinePolicy, existingUserArn, noSuchUser, type IamAction } from './iam-action.js'

/** AWS's limit on the size of a user's inline policy document. */
const MAX_POLICY_CHARS = 2048

export const putUserPolicy: IamAction = {
  name: 'PutUserPolicy',
  service: 'iam',
  async run(ctx, params) {
    const userName = params.name('UserName', 128)
    const policyName = params.name('PolicyName', 128)
    const document = params.required('PolicyDocument')
    await authorizeIam(ctx, 'PutUserPolicy', await existingUserArn(ctx, userName))
    checkInlinePolicy(document, policyName, MAX_POLICY_CHARS, `user ${userName}`)
    if (!(await ctx.deps.store.putUserPolicy({ accountId: ctx.caller.accountId, userName, policyName, document }))) throw noSuchUser(userName)
    return undefined
  },
}
