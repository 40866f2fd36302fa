import { authorizeIam, listPage, noSuchRole, noSuchUser, roleArn, roleXml, userArn, type IamAction } from './iam-action.js'

/** IAM ListRoles: the account's roles by name, with `PathPrefix`, `Marker` and `MaxItems`. */
export const listRoles: IamAction = {
  name: 'ListRoles',
  service: 'iam',
  async run(ctx, params) {
    await authorizeIam(ctx, 'ListRoles', roleArn(ctx, ''))
    const prefix = params.optional('PathPrefix') ?? '/'
    const roles = (await ctx.deps.store.listRoles(ctx.caller.accountId)).filter((r) => r.path.startsWith(prefix))
    const page = listPage(params, roles, (r) => r.roleName)
    return { Roles: page.items.map(roleXml), IsTruncated: page.IsTruncated, Marker: page.Marker }
  },
}

/** IAM ListRolePolicies: the names of a role's inline policies, with `Marker` and `MaxItems`. */
export const listRolePolicies: IamAction = {
  name: 'ListRolePolicies',
  service: 'iam',
  async run(ctx, params) {
    const roleName = params.name('RoleName', 64)
    await authorizeIam(ctx, 'ListRolePolicies', roleArn(ctx, roleName))
    if (!(await ctx.deps.store.getRole(ctx.caller.accountId, roleName))) throw noSuchRole(roleName)
    const page = listPage(params, await ctx.deps.store.listRolePolicies(ctx.caller.accountId, roleName), (p) => p.policyName)
    return { PolicyNames: page.items.map((p) => p.policyName), IsTruncated: page.IsTruncated, Marker: page.Marker }
  },
}

/** IAM ListUserPolicies: the names of a user's inline policies, with `Marker` and `MaxItems`. */
export const listUserPolicies: IamAction = {
  name: 'ListUserPolicies',
  service: 'iam',
  async run(ctx, params) {
    const userName = params.name('UserName', 128)
    await authorizeIam(ctx, 'ListUserPolicies', userArn(ctx, userName))
    if (!(await ctx.deps.store.getUser(ctx.caller.accountId, userName))) throw noSuchUser(userName)
    const page = listPage(params, await ctx.deps.store.listUserPolicies(ctx.caller.accountId, userName), (p) => p.policyName)
    return { PolicyNames: page.items.map((p) => p.policyName), IsTruncated: page.IsTruncated, Marker: page.Marker }
  },
}
