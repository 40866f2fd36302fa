import { generateAccessKeyPair } from '../kms-service.js'
import { authorizeIam, existingUserArn, IamError, isoDate, noSuchUser, targetUserName, type IamAction } from './iam-action.js'

/** AWS's quota of access keys per user. */
const MAX_KEYS_PER_USER = 2

export const createAccessKey: IamAction = {
  name: 'CreateAccessKey',
  service: 'iam',
  async run(ctx, params) {
    const userName = targetUserName(ctx, params)
    await authorizeIam(ctx, 'CreateAccessKey', await existingUserArn(ctx, userName))
    const user = await ctx.deps.store.getUser(ctx.caller.accountId, userName)
    if (!user) throw noSuchUser(userName)
    const existing = await ctx.deps.store.listUserCredentials(ctx.caller.accountId, userName)
    if (existing.length >= MAX_KEYS_PER_USER) {
      throw new IamError('LimitExceeded', `Cannot exceed quota for AccessKeysPerUser: ${MAX_KEYS_PER_USER}`, 409)
    }
    const pair = generateAccessKeyPair()
    const createdAt = ctx.deps.clock.now()
    if (!(await ctx.service.addCredential(ctx.caller.accountId, pair, { userName, arn: user.arn, createdAt }))) {
      // The user was deleted meanwhile (an access key id collision is not a practical outcome).
      throw noSuchUser(userName)
    }
    return {
      AccessKey: { UserName: userName, AccessKeyId: pair.accessKeyId, Status: 'Active', SecretAccessKey: pair.secretAccessKey, CreateDate: isoDate(createdAt) },
    }
  },
}
