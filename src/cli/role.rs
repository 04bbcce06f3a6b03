//! `ssefs role assignment …` and `ssefs role definition list`.

use clap::{Args, Subcommand};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::service::{AssignmentArgs, AssignmentFilter, Service};

// Parsed once per process: the size of a variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum RoleCmd {
    /// Role assignments: who holds which role at which scope.
    #[command(subcommand)]
    Assignment(AssignmentCmd),
    /// The built-in role definitions ssefs knows.
    #[command(subcommand)]
    Definition(DefinitionCmd),
}

/// Filters shared by list and delete.
#[derive(Debug, Args)]
pub struct Filter {
    /// Object id of the principal (or the signed-in user's name).
    #[arg(long)]
    assignee: Option<String>,
    /// Role name or id.
    #[arg(long)]
    role: Option<String>,
    /// The scope (a resource id, resource group id or subscription).
    #[arg(long)]
    scope: Option<String>,
    /// Resource group, as scope.
    #[arg(short = 'g', long)]
    resource_group: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AssignmentCmd {
    /// Assign a role to a principal at a scope (default: the subscription).
    Create {
        /// Object id of the principal (or the signed-in user's name).
        #[arg(
            long,
            required_unless_present = "assignee_object_id",
            conflicts_with = "assignee_object_id"
        )]
        assignee: Option<String>,
        /// Object id of the principal.
        #[arg(long)]
        assignee_object_id: Option<String>,
        /// User, Group, ServicePrincipal or ForeignGroup (default: derived).
        #[arg(long)]
        assignee_principal_type: Option<String>,
        /// Role name (e.g. "Key Vault Crypto Service Encryption User") or id.
        #[arg(long)]
        role: String,
        /// The scope: a resource id, resource group id or subscription.
        #[arg(long)]
        scope: Option<String>,
        /// Resource group, as scope.
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        /// Description of role assignment (accepted and ignored: not recorded).
        #[arg(long)]
        description: Option<String>,
        /// A GUID for the role assignment. It must be unique and different for each role assignment (not supported: ssefs names assignments itself).
        #[arg(value_name = "VALUE", long = "name")]
        refused_name: Option<String>,
        /// Condition under which the user can be granted permission (not supported: no ABAC conditions).
        #[arg(value_name = "VALUE", long = "condition")]
        refused_condition: Option<String>,
        /// Version of the condition syntax (not supported: no ABAC conditions).
        #[arg(value_name = "VALUE", long = "condition-version")]
        refused_condition_version: Option<String>,
    },
    /// List role assignments.
    List {
        #[command(flatten)]
        filter: Filter,
        /// Accepted for compatibility: every assignment of the subscription is listed.
        #[arg(long)]
        all: bool,
    },
    /// Delete role assignments (by --ids, or by the filters).
    Delete {
        /// Role assignment ids.
        #[arg(long, num_args = 1..)]
        ids: Vec<String>,
        #[command(flatten)]
        filter: Filter,
        /// Accepted for compatibility.
        #[arg(short = 'y', long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DefinitionCmd {
    /// List role definitions.
    List {
        /// A role name or id.
        #[arg(short = 'n', long)]
        name: Option<String>,
    },
}

impl Filter {
    fn into_filter(self, ids: Vec<String>) -> AssignmentFilter {
        AssignmentFilter {
            ids,
            assignee: self.assignee,
            role: self.role,
            scope: self.scope,
            resource_group: self.resource_group,
        }
    }
}

impl RoleCmd {
    pub fn run(self, s: &Service) -> Result<Value> {
        match self {
            RoleCmd::Assignment(AssignmentCmd::Create {
                assignee,
                assignee_object_id,
                assignee_principal_type,
                role,
                scope,
                resource_group,
                ..
            }) => {
                let assignee = assignee
                    .or(assignee_object_id)
                    .ok_or_else(|| Error::invalid("give --assignee or --assignee-object-id"))?;
                s.role_assignment_create(&AssignmentArgs {
                    assignee,
                    role,
                    scope,
                    resource_group,
                    principal_type: assignee_principal_type,
                })
            }
            RoleCmd::Assignment(AssignmentCmd::List { filter, .. }) => {
                s.role_assignment_list(&filter.into_filter(Vec::new()))
            }
            RoleCmd::Assignment(AssignmentCmd::Delete { ids, filter, .. }) => {
                s.role_assignment_delete(&filter.into_filter(ids))
            }
            RoleCmd::Definition(DefinitionCmd::List { name }) => {
                s.role_definition_list(name.as_deref())
            }
        }
    }
}
