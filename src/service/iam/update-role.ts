import type { IamRoleRecord } from '../../store/store.js'
import { authorizeIam, checkTrustPolicy, existingRoleArn, noSuchRole, roleSettings, type IamAction, type IamContext } from './iam-action.js'

/** Reads role `roleName`, applies `change` and writes it back (NoSuchEntity if it is gone meanwhile). */
async function changeRole(ctx: IamContext, roleName: string, change: (role: IamRoleRecord) => IamRoleRecord): Promise<void> {
  const role = await ctx.deps.store.getRole(ctx.caller.accountId, roleName)
  if (!role || !(await ctx.deps.store.updateRole(change(role)))) throw noSuchRole(roleName)
}

/** IAM UpdateRole: a role's Description and MaxSessionDuration (sessions already issued keep their expiry, as in AWS). */
export const updateRole: IamAction = {
  name: 'UpdateRole',
  service: 'iam',
  async run(ctx, params) {
    const roleName = params.name('RoleName', 64)
    const settings = roleSettings(params)
    await authorizeIam(ctx, 'UpdateRole', await existingRoleArn(ctx, roleName))
    await changeRole(ctx, roleName, (role) => ({ ...role, ...settings }))
    return {}
  },
}

/** IAM UpdateAssumeRolePolicy: replaces a role's trust policy. */
export const updateAssumeRolePolicy: IamAction = {
  name: 'UpdateAssumeRolePolicy',
  service: 'iam',
  async run(ctx, params) {
    const roleName = params.name('RoleName', 64)
    const trustPolicy = params.required('PolicyDocument')
    await authorizeIam(ctx, 'UpdateAssumeRolePolicy', await existingRoleArn(ctx, roleName))
    checkTrustPolicy(trustPolicy)
    await changeRole(ctx, roleName, (role) => ({ ...role, trustPolicy }))
    return undefined
  },
}
