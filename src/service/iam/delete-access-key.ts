import { authorizeIam, existingUserArn, IamError, targetUserName, type IamAction } from './iam-action.js'

export const deleteAccessKey: IamAction = {
  name: 'DeleteAccessKey',
  service: 'iam',
  async run(ctx, params) {
    const accessKeyId = params.required('AccessKeyId')
    const userName = targetUserName(ctx, params)
    await authorizeIam(ctx, 'DeleteAccessKey', await existingUserArn(ctx, userName))
    const credential = await ctx.deps.store.getCredential(accessKeyId)
    if (!credential || credential.accountId !== ctx.caller.accountId || credential.userName !== userName || !(await ctx.deps.store.deleteCredential(accessKeyId))) {
      throw new IamError('NoSuchEntity', `The Access Key with id ${accessKeyId} cannot be found.`, 404)
    }
    ctx.forgetAccessKey(accessKeyId)
    return undefined
  },
}
