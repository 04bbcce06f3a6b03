//! `ssefs disk-encryption-set …`.

use clap::Subcommand;
use serde_json::Value;

use super::az_args::{GenericUpdate, Paging, TagArgs};
use super::parse_bool;
use crate::error::{Error, Result};
use crate::service::{DesArgs, RecordTarget, Recorded, Service};

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
        /// The type of key used to encrypt the data of the disk: EncryptionAtRestWithCustomerKey (the others are not supported).
        #[arg(long)]
        encryption_type: Option<String>,
        /// Provide this flag to use system assigned identity (always: a set reaches its vault with it).
        #[arg(long)]
        mi_system_assigned: bool,
        /// User Assigned Identity ids to be used for disk encryption set (recorded).
        #[arg(long, num_args = 1..)]
        mi_user_assigned: Vec<String>,
        /// The federated client id used in cross tenant scenario (recorded).
        #[arg(long)]
        federated_client_id: Option<String>,
        #[command(flatten)]
        tags: TagArgs,
        /// Do not wait for the long-running operation to finish.
        #[arg(long)]
        no_wait: bool,
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
        #[command(flatten)]
        paging: Paging,
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
        /// The federated client id used in cross tenant scenario (recorded).
        #[arg(long)]
        federated_client_id: Option<String>,
        #[command(flatten)]
        update: GenericUpdate,
        /// Do not wait for the long-running operation to finish.
        #[arg(long)]
        no_wait: bool,
    },
    /// Delete a set no disk or snapshot uses.
    Delete {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        /// Do not wait for the long-running operation to finish.
        #[arg(long)]
        no_wait: bool,
        /// Do not prompt for confirmation (accepted: ssefs never prompts here).
        #[arg(short = 'y', long)]
        yes: bool,
    },
    /// Ids of the disks and snapshots that use the set.
    ListAssociatedResources {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
    },
    /// The managed identities of a set.
    #[command(subcommand)]
    Identity(DesIdentityCmd),
}

/// `disk-encryption-set identity …`.
#[derive(Debug, Subcommand)]
pub enum DesIdentityCmd {
    /// Add managed identities to an existing disk encryption set.
    Assign {
        /// Name of disk encryption set.
        #[arg(short = 'n', long)]
        name: String,
        /// Name of resource group.
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        /// Provide this flag to use system assigned identity (it always is).
        #[arg(long)]
        system_assigned: bool,
        /// User Assigned Identity ids to be used for disk encryption set (recorded).
        #[arg(long, num_args = 1..)]
        user_assigned: Vec<String>,
    },
    /// Remove managed identities from an existing disk encryption set.
    Remove {
        /// Name of disk encryption set.
        #[arg(short = 'n', long)]
        name: String,
        /// Name of resource group.
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        /// Provide this flag to remove the system assigned identity (not supported: the set needs it).
        #[arg(long)]
        system_assigned: bool,
        /// User Assigned Identity ids to remove; with no ids, all of them.
        #[arg(long, num_args = 0..)]
        user_assigned: Option<Vec<String>>,
        /// Do not prompt for confirmation.
        #[arg(short = 'y', long)]
        yes: bool,
    },
    /// Display managed identities of a disk encryption set.
    Show {
        /// Name of disk encryption set.
        #[arg(short = 'n', long)]
        name: String,
        /// Name of resource group.
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
                encryption_type,
                mi_user_assigned,
                federated_client_id,
                tags,
                ..
            } => {
                if let Some(t) = &encryption_type
                    && !t.eq_ignore_ascii_case("EncryptionAtRestWithCustomerKey")
                {
                    return Err(Error::not_supported(format!(
                        "--encryption-type {}: ssefs sets encrypt at rest with one customer key (EncryptionAtRestWithCustomerKey)",
                        t.chars().take(60).collect::<String>()
                    )));
                }
                let recorded = Recorded {
                    tags: tags.parse()?,
                    set: federated_client_id
                        .map(|id| vec![("federatedClientId".to_string(), Value::String(id))])
                        .unwrap_or_default(),
                    remove: Vec::new(),
                };
                let group = resource_group.clone();
                let out = s.des_create(&DesArgs {
                    name: name.clone(),
                    resource_group,
                    location,
                    key_url,
                    source_vault,
                    auto_rotation: enable_auto_key_rotation.unwrap_or(false),
                })?;
                if recorded.is_empty() && mi_user_assigned.is_empty() {
                    return Ok(out);
                }
                s.record(RecordTarget::Des(&name, Some(&group)), &recorded)?;
                if !mi_user_assigned.is_empty() {
                    s.des_identity_assign(&name, Some(&group), &mi_user_assigned)?;
                }
                s.des_show(&name, Some(&group))
            }
            DesCmd::Show {
                name,
                resource_group,
            } => s.des_show(&name, resource_group.as_deref()),
            DesCmd::List { resource_group, .. } => s.des_list(resource_group.as_deref()),
            DesCmd::Update {
                name,
                resource_group,
                key_url,
                source_vault,
                enable_auto_key_rotation,
                federated_client_id,
                update,
                ..
            } => {
                let mut recorded = update.recorded(None)?;
                if let Some(id) = federated_client_id {
                    recorded
                        .set
                        .push(("federatedClientId".into(), Value::String(id)));
                }
                let out = s.des_update(
                    &name,
                    resource_group.as_deref(),
                    key_url.as_deref(),
                    source_vault.as_deref(),
                    enable_auto_key_rotation,
                )?;
                if recorded.is_empty() {
                    return Ok(out);
                }
                s.record(
                    RecordTarget::Des(&name, resource_group.as_deref()),
                    &recorded,
                )?;
                s.des_show(&name, resource_group.as_deref())
            }
            DesCmd::Delete {
                name,
                resource_group,
                ..
            } => s.des_delete(&name, resource_group.as_deref()),
            DesCmd::ListAssociatedResources {
                name,
                resource_group,
            } => s.des_list_associated(&name, resource_group.as_deref()),
            DesCmd::Identity(cmd) => cmd.run(s),
        }
    }
}

impl DesIdentityCmd {
    pub fn run(self, s: &Service) -> Result<Value> {
        match self {
            DesIdentityCmd::Assign {
                name,
                resource_group,
                user_assigned,
                ..
            } => s.des_identity_assign(&name, resource_group.as_deref(), &user_assigned),
            DesIdentityCmd::Remove {
                name,
                resource_group,
                system_assigned,
                user_assigned,
                ..
            } => s.des_identity_remove(
                &name,
                resource_group.as_deref(),
                system_assigned,
                user_assigned.as_deref(),
            ),
            DesIdentityCmd::Show {
                name,
                resource_group,
            } => s.des_identity_show(&name, resource_group.as_deref()),
        }
    }
}
