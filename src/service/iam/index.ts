import { assumeRole } from './assume-role.js'
import { createAccessKey } from './create-access-key.js'
import { createRole } from './create-role.js'
import { deleteRole } from './delete-role.js'
import { deleteRolePolicy } from './delete-role-policy.js'
import { getRole } from './get-role.js'
import { getRolePolicy } from './get-role-policy.js'
import { putRolePolicy } from './put-role-policy.js'
import { createUser } from './create-user.js'
import { deleteAccessKey } from './delete-access-key.js'
import { deleteUser } from './delete-user.js'
import { deleteUserPolicy } from './delete-user-policy.js'
import { getCallerIdentity } from './get-caller-identity.js'
import { getUser } from './get-user.js'
import { getUserPolicy } from './get-user-policy.js'
import type { IamAction } from './iam-action.js'
import { listAccessKeys } from './list-access-keys.js'
import { listRolePolicies, listRoles, listUserPolicies } from './list-roles.js'
import { listUsers } from './list-users.js'
import { updateAssumeRolePolicy, updateRole } from './update-role.js'
import { putUserPolicy } from './put-user-policy.js'
import { listRoleTags, listUserTags, tagRole, tagUser, untagRole, untagUser } from './tags.js'

export { IamError, Params, type IamAction, type IamContext, type XmlObject, type XmlValue } from './iam-action.js'

/** The IAM (Version 2010-05-08) and STS (Version 2011-06-15) actions Trent answers, by name. */
export const IAM_ACTIONS: ReadonlyMap<string, IamAction> = new Map(
  [createUser, getUser, deleteUser, listUsers, createAccessKey, deleteAccessKey, listAccessKeys, putUserPolicy, getUserPolicy, deleteUserPolicy, getCallerIdentity, createRole, getRole, deleteRole, putRolePolicy, getRolePolicy, deleteRolePolicy, assumeRole, updateRole, updateAssumeRolePolicy, listRoles, listRolePolicies, listUserPolicies, tagUser, untagUser, listUserTags, tagRole, untagRole, listRoleTags].map(
    (a) => [a.name, a],
  ),
)
