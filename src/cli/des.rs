//! `ssefs disk-encryption-set …`.

use clap::Subcommand;
use serde_json::Value;

use super::parse_bool;
use crate::error::Result;
use crate::service::{DesArgs, Service};

#[derive(Debug, Subcommand)]
pub enum DesCmd {
    /// Create a set for a customer key (an RSA-2048 key in a vault with purge protection).
    Create {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: String,
        /// Defaults to the vault's location.
        #[arg(short = 'l', long)]
        location: Option<String>,
        /// https://VAULT.vault.azure.net/keys/KEY/VERSION (no version: the latest).
        #[arg(long)]
        key_url: String,
        /// The vault's name or resource id (must be the vault of --key-url).
        #[arg(long)]
        source_vault: Option<String>,
        /// Take up new key versions automatically.
        #[arg(long, value_parser = parse_bool, num_args = 0..=1, default_missing_value = "true")]
        enable_auto_key_rotation: Option<bool>,
    },
    /// Show a set (by name or id).
    Show {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
    },
    /// List sets.
    List {
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
    },
    /// Point the set at another key or version (re-wraps every disk and snapshot of the set).
    Update {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        #[arg(long)]
        key_url: Option<String>,
        #[arg(long)]
        source_vault: Option<String>,
        #[arg(long, value_parser = parse_bool, num_args = 0..=1, default_missing_value = "true")]
        enable_auto_key_rotation: Option<bool>,
    },
    /// Delete a set no disk or snapshot uses.
    Delete {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
    },
    /// Ids of the disks and snapshots that use the set.
    ListAssociatedResources {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
    },
}

impl DesCmd {
    pub fn run(self, s: &Service) -> Result<Value> {
        match self {
            DesCmd::Create {
                name,
                resource_group,
                location,
                key_url,
                source_vault,
                enable_auto_key_rotation,
            } => s.des_create(&DesArgs {
                name,
                resource_group,
                location,
                key_url,
                source_vault,
                auto_rotation: enable_auto_key_rotation.unwrap_or(false),
            }),
            DesCmd::Show {
                name,
                resource_group,
            } => s.des_show(&name, resource_group.as_deref()),
            DesCmd::List { resource_group } => s.des_list(resource_group.as_deref()),
            DesCmd::Update {
                name,
                resource_group,
                key_url,
                source_vault,
                enable_auto_key_rotation,
            } => s.des_update(
                &name,
                resource_group.as_deref(),
                key_url.as_deref(),
                source_vault.as_deref(),
                enable_auto_key_rotation,
            ),
            DesCmd::Delete {
                name,
                resource_group,
            } => s.des_delete(&name, resource_group.as_deref()),
            DesCmd::ListAssociatedResources {
                name,
                resource_group,
            } => s.des_list_associated(&name, resource_group.as_deref()),
        }
    }
}
