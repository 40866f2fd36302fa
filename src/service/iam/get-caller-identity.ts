import type { IamAction } from './iam-action.js'

/** STS GetCallerIdentity: needs no permission, as in AWS. */
export const getCallerIdentity: IamAction = {
  name: 'GetCallerIdentity',
  service: 'sts',
  async run(ctx) {
    const { caller } = ctx
    return { Arn: caller.principalArn, UserId: caller.role ? `${caller.role.roleId}:${caller.role.sessionName}` : caller.user ? caller.user.userId : caller.accountId, Account: caller.accountId }
  },
}
