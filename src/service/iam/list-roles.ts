import { authorizeIam, existingRoleArn, existingUserArn, listPage, noSuchRole, noSuchUser, roleArn, roleXml, type IamAction, type IamContext } from './iam-action.js'

/** IAM ListRoles: the account's roles by name, with `PathPrefix`, `Marker` and `MaxItems`. */
export const listRoles: IamAction = {
  name: 'ListRoles',
  service: 'iam',
  async run(ctx, params) {
    await authorizeIam(ctx, 'ListRoles', roleArn(ctx, ''))
    const prefix = params.pathPrefix()
    const roles = (await ctx.deps.store.listRoles(ctx.caller.accountId)).filter((r) => r.path.startsWith(prefix))
    const page = listPage(params, roles, (r) => r.roleName)
    return { Roles: page.items.map(roleXml), IsTruncated: page.IsTruncated, Marker: page.Marker }
  },
}

/** What ListRolePolicies and ListUserPolicies differ in. */
interface PolicyOwner {
  readonly kind: 'Role' | 'User'
  readonly maxName: number
  arn(ctx: IamContext, name: string): Promise<string>
  /** The owner's policies, or undefined when it does not exist. */
  policies(ctx: IamContext, name: string): Promise<Array<{ policyName: string }> | undefined>
  missing(name: string): Error
}

/** ListRolePolicies / ListUserPolicies: the names of the owner's inline policies, with `Marker` and `MaxItems`. */
function listPolicyNames(owner: PolicyOwner): IamAction {
  return {
    name: `List${owner.kind}Policies`,
    service: 'iam',
    async run(ctx, params) {
      const name = params.name(`${owner.kind}Name`, owner.maxName)
      await authorizeIam(ctx, `List${owner.kind}Policies`, await owner.arn(ctx, name))
      const policies = await owner.policies(ctx, name)
      if (!policies) throw owner.missing(name)
      const page = listPage(params, policies, (p) => p.policyName)
      return { PolicyNames: page.items.map((p) => p.policyName), IsTruncated: page.IsTruncated, Marker: page.Marker }
    },
  }
}

export const listRolePolicies = listPolicyNames({
  kind: 'Role',
  maxName: 64,
  arn: existingRoleArn,
  policies: async (ctx, name) => ((await ctx.deps.store.getRole(ctx.caller.accountId, name)) ? ctx.deps.store.listRolePolicies(ctx.caller.accountId, name) : undefined),
  missing: noSuchRole,
})

export const listUserPolicies = listPolicyNames({
  kind: 'User',
  maxName: 128,
  arn: existingUserArn,
  policies: async (ctx, name) => ((await ctx.deps.store.getUser(ctx.caller.accountId, name)) ? ctx.deps.store.listUserPolicies(ctx.caller.accountId, name) : undefined),
  missing: noSuchUser,
})
