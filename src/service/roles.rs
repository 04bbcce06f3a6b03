//! `role assignment create|list|delete` and `role definition list`: who holds which built-in
//! role at which scope (see [`crate::rbac`]); in a vault with `enableRbacAuthorization`, these
//! decide key access, and removing an assignment revokes it as `delete-policy` does.

use serde_json::Value;

use super::Service;
use crate::error::{Error, Result};
use crate::rbac::{self, RoleAssignment};
use crate::vault::validate_object_id;

/// `role assignment create` arguments.
#[derive(Debug, Clone, Default)]
pub struct AssignmentArgs {
    /// `--assignee` (an object id, or the signed-in user's name) or `--assignee-object-id`.
    pub assignee: String,
    pub role: String,
    pub scope: Option<String>,
    pub resource_group: Option<String>,
    pub principal_type: Option<String>,
}

/// `role assignment list|delete` filters.
#[derive(Debug, Clone, Default)]
pub struct AssignmentFilter {
    pub ids: Vec<String>,
    pub assignee: Option<String>,
    pub role: Option<String>,
    pub scope: Option<String>,
    pub resource_group: Option<String>,
}

impl Service {
    fn subscription_scope(&self) -> String {
        format!("/subscriptions/{}", self.store.record().subscription_id)
    }

    /// The object id `--assignee` names: a GUID, or the signed-in user's name.
    fn assignee_object_id(&self, assignee: &str) -> Result<String> {
        let rec = self.store.record();
        if assignee.eq_ignore_ascii_case(super::views::USER_NAME) {
            return Ok(rec.user_object_id.clone());
        }
        validate_object_id(assignee)?;
        Ok(assignee.to_ascii_lowercase())
    }

    /// `--scope` or `-g`, else the current subscription; a scope must lie in it.
    fn assignment_scope(&self, scope: Option<&str>, group: Option<&str>) -> Result<String> {
        let sub = self.subscription_scope();
        let scope = match (scope, group) {
            (Some(s), _) => s.trim_end_matches('/').to_string(),
            (None, Some(g)) => format!("{sub}/resourceGroups/{g}"),
            (None, None) => sub.clone(),
        };
        let lower = scope.to_ascii_lowercase();
        if lower != sub.to_ascii_lowercase()
            && !lower.starts_with(&format!("{}/", sub.to_ascii_lowercase()))
        {
            return Err(Error::invalid(format!(
                "--scope '{}' is not the current subscription or a resource in it ({sub})",
                scope.chars().take(200).collect::<String>()
            )));
        }
        if scope.contains("//") || scope.chars().any(|c| c.is_control() || c == ' ') {
            return Err(Error::invalid("--scope is not a valid resource id"));
        }
        Ok(scope)
    }

    /// `role assignment create`.
    pub fn role_assignment_create(&self, args: &AssignmentArgs) -> Result<Value> {
        let principal = self.assignee_object_id(&args.assignee)?;
        let role = rbac::find_role(&args.role)?;
        let scope = self.assignment_scope(args.scope.as_deref(), args.resource_group.as_deref())?;
        let principal_type = match &args.principal_type {
            Some(t) => t.clone(),
            None if principal.eq_ignore_ascii_case(&self.store.record().user_object_id) => {
                "User".into()
            }
            None => "ServicePrincipal".into(),
        };
        let rec =
            self.store
                .vaults()
                .assignments()
                .create(&principal, &principal_type, role, &scope)?;
        Ok(rec.view(&self.store.record().subscription_id))
    }

    fn matching(&self, f: &AssignmentFilter) -> Result<Vec<RoleAssignment>> {
        let principal = f
            .assignee
            .as_deref()
            .map(|a| self.assignee_object_id(a))
            .transpose()?;
        let role = f.role.as_deref().map(rbac::find_role).transpose()?;
        let scope = match (&f.scope, &f.resource_group) {
            (None, None) => None,
            (s, g) => Some(self.assignment_scope(s.as_deref(), g.as_deref())?),
        };
        Ok(self
            .store
            .vaults()
            .assignments()
            .all()?
            .into_iter()
            .filter(|a| f.ids.is_empty() || f.ids.iter().any(|id| id.eq_ignore_ascii_case(&a.id())))
            .filter(|a| {
                principal
                    .as_deref()
                    .is_none_or(|p| a.principal_id.eq_ignore_ascii_case(p))
            })
            .filter(|a| role.is_none_or(|r| a.role_id.eq_ignore_ascii_case(r.id)))
            .filter(|a| {
                scope
                    .as_deref()
                    .is_none_or(|s| a.scope.eq_ignore_ascii_case(s))
            })
            .collect())
    }

    /// `role assignment list`.
    pub fn role_assignment_list(&self, f: &AssignmentFilter) -> Result<Value> {
        let sub = &self.store.record().subscription_id;
        Ok(Value::Array(
            self.matching(f)?.iter().map(|a| a.view(sub)).collect(),
        ))
    }

    /// `role assignment delete`: removes every assignment the filters select (at least one
    /// filter is required, as in az); access they gave is revoked at once.
    pub fn role_assignment_delete(&self, f: &AssignmentFilter) -> Result<Value> {
        if f.ids.is_empty()
            && f.assignee.is_none()
            && f.role.is_none()
            && f.scope.is_none()
            && f.resource_group.is_none()
        {
            return Err(Error::invalid(
                "Please provide at least one of these arguments: --ids, --assignee, --role, --scope, --resource-group",
            ));
        }
        let doomed = self.matching(f)?;
        for a in &doomed {
            self.store.vaults().assignments().delete(&a.name)?;
        }
        Ok(Value::Null)
    }

    /// `role definition list [--name]`.
    pub fn role_definition_list(&self, name: Option<&str>) -> Result<Value> {
        let sub = &self.store.record().subscription_id;
        let roles: Vec<Value> = match name {
            Some(n) => vec![rbac::role_definition_view(sub, rbac::find_role(n)?)],
            None => rbac::ROLES
                .iter()
                .map(|r| rbac::role_definition_view(sub, r))
                .collect(),
        };
        Ok(Value::Array(roles))
    }
}
