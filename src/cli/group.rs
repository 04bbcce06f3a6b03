//! `ssefs group …` (resource groups) and `ssefs resource move`.

use clap::Subcommand;
use serde_json::Value;

use super::az_args::{GenericUpdate, TagArgs};
use crate::error::{Error, Result};
use crate::service::{GroupArgs, RecordTarget, Service, parse_tags};

#[derive(Debug, Subcommand)]
pub enum GroupCmd {
    /// Create a resource group (or update the tags of an existing one).
    Create {
        /// Name of the resource group.
        #[arg(
            short = 'n',
            long = "name",
            visible_alias = "resource-group",
            short_alias = 'g'
        )]
        name: String,
        /// Location, e.g. eastus.
        #[arg(short = 'l', long)]
        location: String,
        /// Space-separated tags: KEY[=VALUE] [KEY[=VALUE] ...]; "" clears them.
        #[arg(long, num_args = 0..)]
        tags: Vec<String>,
        /// Accepted for az compatibility (a group has no manager here).
        #[arg(long)]
        managed_by: Option<String>,
    },
    /// Show a resource group.
    Show {
        /// Name of the resource group.
        #[arg(
            short = 'n',
            long = "name",
            visible_alias = "resource-group",
            short_alias = 'g'
        )]
        name: String,
    },
    /// List the resource groups of the current subscription.
    List {
        /// Accepted for az compatibility: only groups whose tag KEY[=VALUE] matches.
        #[arg(long)]
        tag: Option<String>,
    },
    /// Print whether a resource group exists (true or false).
    Exists {
        /// Name of the resource group.
        #[arg(
            short = 'n',
            long = "name",
            visible_alias = "resource-group",
            short_alias = 'g'
        )]
        name: String,
    },
    /// Delete a resource group and everything it holds (vaults are soft-deleted).
    Delete {
        /// Name of the resource group.
        #[arg(
            short = 'n',
            long = "name",
            visible_alias = "resource-group",
            short_alias = 'g'
        )]
        name: String,
        /// Do not prompt for confirmation (required: ssefs never prompts).
        #[arg(short = 'y', long)]
        yes: bool,
        /// Accepted for az compatibility: ssefs deletes before it returns.
        #[arg(long)]
        no_wait: bool,
        /// The resource types you want to force delete (not supported: ssefs deletes VMs and scale sets without it).
        #[arg(value_name = "VALUE", long = "force-deletion-types")]
        refused_force_deletion_types: Option<String>,
    },
    /// Update a resource group: its tags.
    Update {
        /// Name of the resource group.
        #[arg(
            short = 'n',
            long = "name",
            visible_alias = "resource-group",
            short_alias = 'g'
        )]
        name: String,
        #[command(flatten)]
        tags: TagArgs,
        #[command(flatten)]
        update: GenericUpdate,
        /// The ID of the resource that manages this resource group (accepted: a group has no manager here).
        #[arg(long)]
        managed_by: Option<String>,
    },
}

impl GroupCmd {
    pub fn run(self, s: &Service) -> Result<Value> {
        match self {
            GroupCmd::Create {
                name,
                location,
                tags,
                ..
            } => s.group_create(&GroupArgs {
                name,
                location,
                tags: parse_tags(&tags)?,
            }),
            GroupCmd::Show { name } => s.group_show(&name),
            GroupCmd::List { tag } => {
                let all = s.group_list()?;
                Ok(match tag {
                    None => all,
                    Some(t) => filter_by_tag(all, &t),
                })
            }
            GroupCmd::Exists { name } => s.group_exists(&name),
            GroupCmd::Delete { name, yes, .. } => {
                if !yes {
                    return Err(Error::invalid(format!(
                        "deleting resource group '{name}' deletes everything in it: add --yes to confirm (ssefs never prompts)"
                    )));
                }
                s.group_delete(&name)
            }
            GroupCmd::Update {
                name, tags, update, ..
            } => {
                s.record(RecordTarget::Group(&name), &update.recorded(tags.parse()?)?)?;
                s.group_show(&name)
            }
        }
    }
}

fn filter_by_tag(groups: Value, tag: &str) -> Value {
    let (key, value) = match tag.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (tag, None),
    };
    let keep = |g: &Value| {
        g["tags"][key]
            .as_str()
            .is_some_and(|v| value.is_none_or(|want| want == v))
    };
    match groups {
        Value::Array(items) => Value::Array(items.into_iter().filter(keep).collect()),
        other => other,
    }
}

#[derive(Debug, Subcommand)]
pub enum ResourceCmd {
    /// Move disks, snapshots and images to another resource group or subscription.
    Move {
        /// Space-separated resource ids, all from one resource group.
        #[arg(long, num_args = 1.., required = true)]
        ids: Vec<String>,
        /// The resource group to move them to.
        #[arg(long)]
        destination_group: String,
        /// The subscription to move them to (id or name; default: the current one).
        #[arg(long)]
        destination_subscription_id: Option<String>,
    },
}

impl ResourceCmd {
    pub fn run(self, s: &Service) -> Result<Value> {
        match self {
            ResourceCmd::Move {
                ids,
                destination_group,
                destination_subscription_id,
            } => s.resource_move(
                &ids,
                &destination_group,
                destination_subscription_id.as_deref(),
            ),
        }
    }
}
