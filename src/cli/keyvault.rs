//! `ssefs keyvault …` and `ssefs keyvault key …`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::Value;

use super::parse_bool;
use crate::clock;
use crate::daemon::remote::{ClientFiles, ReplyFile};
use crate::error::{Error, Result};
use crate::ids::KeyUrl;
use crate::service::{ImportedPem, KeyArgs, Service, VaultArgs};
use crate::vault::{VersionDates, VersionSelector};
use zeroize::Zeroizing;

#[derive(Debug, Subcommand)]
pub enum KeyvaultCmd {
    /// Create a key vault (its creator gets every key permission, unless access is by role).
    Create {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: String,
        #[arg(short = 'l', long)]
        location: Option<String>,
        /// Needed for disk encryption; cannot be turned off once on.
        #[arg(long, value_parser = parse_bool, num_args = 0..=1, default_missing_value = "true")]
        enable_purge_protection: Option<bool>,
        /// Soft delete is always on in the cloud; `false` is accepted to test the refusal.
        #[arg(long, value_parser = parse_bool, num_args = 0..=1, default_missing_value = "true")]
        enable_soft_delete: Option<bool>,
        /// Soft-delete retention, 7 to 90 days.
        #[arg(long)]
        retention_days: Option<u32>,
        /// Decide key access by role assignments (`role assignment create`) instead of access
        /// policies; `set-policy` is then refused.
        #[arg(long, value_parser = parse_bool, num_args = 0..=1, default_missing_value = "true")]
        enable_rbac_authorization: Option<bool>,
        /// standard (default) or premium (premium vaults also hold HSM-protected keys).
        #[arg(long, default_value = "standard")]
        sku: String,
    },
    /// Show a key vault.
    Show {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
    },
    /// List key vaults.
    List {
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
    },
    /// Turn on purge protection or change the retention.
    Update {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        #[arg(long, value_parser = parse_bool, num_args = 0..=1, default_missing_value = "true")]
        enable_purge_protection: Option<bool>,
        #[arg(long)]
        retention_days: Option<u32>,
    },
    /// Soft-delete a key vault.
    Delete {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
    },
    /// Recover a soft-deleted key vault.
    Recover {
        #[arg(short = 'n', long)]
        name: String,
    },
    /// Purge a soft-deleted key vault (refused while purge protection holds).
    Purge {
        #[arg(short = 'n', long)]
        name: String,
    },
    /// Show a soft-deleted key vault.
    ShowDeleted {
        #[arg(short = 'n', long)]
        name: String,
    },
    /// Grant key permissions to an object id (e.g. a disk encryption set's identity).
    SetPolicy {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        #[arg(long)]
        object_id: String,
        /// Space-separated: get wrapKey unwrapKey … (case-insensitive), or all.
        #[arg(long, num_args = 1.., required = true)]
        key_permissions: Vec<String>,
    },
    /// Remove an object id's access policy.
    DeletePolicy {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        #[arg(long)]
        object_id: String,
    },
    /// Show the vault's audit log (every get, wrap, unwrap, create, … with caller and outcome).
    Audit {
        #[arg(short = 'n', long)]
        name: String,
    },
    /// Keys.
    #[command(subcommand)]
    Key(KeyCmd),
}

/// `--vault-name` and `-n` of a key.
#[derive(Debug, Args)]
pub struct KeyName {
    #[arg(long)]
    vault_name: String,
    #[arg(short = 'n', long)]
    name: String,
}

#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    /// Create a key, or a new version of an existing one.
    Create {
        #[command(flatten)]
        key: KeyName,
        /// software, or hsm (in the PKCS#11 token of the hsm.* settings; premium vaults only).
        #[arg(long, default_value = "software")]
        protection: String,
        #[arg(long, default_value = "RSA")]
        kty: String,
        /// 2048, 3072 or 4096 (only 2048 can be used for disks).
        #[arg(long)]
        size: Option<usize>,
        #[command(flatten)]
        dates: DateArgs,
    },
    /// Import an RSA private key from a PEM file as a new version.
    Import {
        #[command(flatten)]
        key: KeyName,
        #[arg(long)]
        pem_file: PathBuf,
        #[arg(long, default_value = "software")]
        protection: String,
        #[command(flatten)]
        dates: DateArgs,
    },
    /// Show a key (latest version unless --version, or a key URL with --id).
    Show {
        #[arg(long, required_unless_present = "id")]
        vault_name: Option<String>,
        #[arg(short = 'n', long, required_unless_present = "id")]
        name: Option<String>,
        #[arg(long)]
        version: Option<String>,
        /// A key URL instead of --vault-name/--name/--version.
        #[arg(long, conflicts_with_all = ["vault_name", "name"])]
        id: Option<String>,
    },
    /// List the keys of a vault.
    List {
        #[arg(long)]
        vault_name: String,
    },
    /// List the versions of a key.
    ListVersions {
        #[command(flatten)]
        key: KeyName,
    },
    /// Make a new version of a key.
    Rotate {
        #[command(flatten)]
        key: KeyName,
    },
    /// Enable or disable a version, or set its dates (the latest unless --version).
    SetAttributes {
        #[command(flatten)]
        key: KeyName,
        #[arg(long)]
        version: Option<String>,
        #[arg(long, value_parser = parse_bool, num_args = 0..=1, default_missing_value = "true")]
        enabled: Option<bool>,
        #[command(flatten)]
        dates: DateArgs,
    },
    /// Soft-delete a key.
    Delete {
        #[command(flatten)]
        key: KeyName,
    },
    /// Recover a soft-deleted key.
    Recover {
        #[command(flatten)]
        key: KeyName,
    },
    /// Purge a soft-deleted key (refused while purge protection holds).
    Purge {
        #[command(flatten)]
        key: KeyName,
    },
    /// Show a soft-deleted key.
    ShowDeleted {
        #[command(flatten)]
        key: KeyName,
    },
    /// Back up a key, every version with its private key, into one file sealed under the vault
    /// directory's backup key (software-protected keys only).
    Backup {
        #[command(flatten)]
        key: KeyName,
        /// The file to write (by the caller, mode 0600; replaced if it exists).
        #[arg(short = 'f', long)]
        file: PathBuf,
    },
    /// Restore a key from a backup file into a vault of the same subscription (its name must
    /// be free: no live or soft-deleted key of that name).
    Restore {
        #[arg(long)]
        vault_name: String,
        /// The backup file (read by the caller).
        #[arg(short = 'f', long)]
        file: PathBuf,
    },
    /// A key's rotation policy: when Key Vault makes a new version by itself.
    #[command(subcommand, name = "rotation-policy")]
    RotationPolicy(RotationPolicyCmd),
}

/// `--expires` and `--not-before` of a key version (UTC, e.g. 2027-12-31T23:59:59Z).
#[derive(Debug, Args)]
pub struct DateArgs {
    /// When the version stops wrapping new data keys (it still unwraps): an ISO date and time
    /// such as 2027-12-31T23:59:59Z or 2027-12-31.
    #[arg(long)]
    expires: Option<String>,
    /// When the version starts wrapping data keys: an ISO date and time.
    #[arg(long)]
    not_before: Option<String>,
}

impl DateArgs {
    fn parse(&self) -> Result<VersionDates> {
        let one = |flag: &str, v: &Option<String>| -> Result<Option<i64>> {
            v.as_deref()
                .map(|text| {
                    clock::parse_datetime(text).ok_or_else(|| {
                        Error::invalid(format!(
                            "{flag} '{}' is not a date and time: use an ISO form such as 2027-12-31T23:59:59Z, 2027-12-31T23:59Z or 2027-12-31 (UTC)",
                            text.chars().take(40).collect::<String>()
                        ))
                    })
                })
                .transpose()
        };
        let dates = VersionDates {
            expires: one("--expires", &self.expires)?,
            not_before: one("--not-before", &self.not_before)?,
            expires_after: None,
        };
        dates.check()?;
        Ok(dates)
    }

    fn given(&self) -> bool {
        self.expires.is_some() || self.not_before.is_some()
    }
}

#[derive(Debug, Subcommand)]
pub enum RotationPolicyCmd {
    /// Show a key's rotation policy (Key Vault's default when none was set).
    Show {
        #[command(flatten)]
        key: KeyName,
    },
    /// Set a key's rotation policy.
    Update {
        #[command(flatten)]
        key: KeyName,
        /// The policy: JSON, a file holding it, or @file, e.g.
        /// {"lifetimeActions":[{"trigger":{"timeAfterCreate":"P30D"},"action":{"type":"Rotate"}}],"attributes":{"expiryTime":"P90D"}}
        #[arg(long)]
        value: String,
    },
}

/// The file `--value` names, if it names one: `@FILE`, or anything that is not JSON.
fn policy_file(value: &str) -> Option<&Path> {
    let v = value.trim_start();
    if let Some(file) = v.strip_prefix('@') {
        return Some(Path::new(file));
    }
    if v.is_empty() || v.starts_with('{') || v.starts_with('[') {
        return None;
    }
    Some(Path::new(value))
}

impl KeyvaultCmd {
    /// Reads the files this command names, on the caller's side (see [`ClientFiles`]).
    pub fn read_files(&self, cwd: &Path, files: &mut ClientFiles) -> Result<()> {
        match self {
            KeyvaultCmd::Key(KeyCmd::Import { pem_file, .. }) => files.read(cwd, pem_file),
            KeyvaultCmd::Key(KeyCmd::Restore { file, .. }) => files.read_binary(cwd, file),
            KeyvaultCmd::Key(KeyCmd::RotationPolicy(RotationPolicyCmd::Update {
                value, ..
            })) => match policy_file(value) {
                Some(path) => files.read(cwd, path),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    pub fn run(
        self,
        s: &Service,
        cwd: &Path,
        files: &ClientFiles,
        made: &mut Vec<ReplyFile>,
    ) -> Result<Value> {
        match self {
            KeyvaultCmd::Create {
                name,
                resource_group,
                location,
                enable_purge_protection,
                enable_soft_delete,
                retention_days,
                enable_rbac_authorization,
                sku,
            } => s.vault_create(&VaultArgs {
                sku,
                name,
                resource_group,
                location,
                enable_soft_delete: enable_soft_delete.unwrap_or(true),
                retention_days,
                enable_purge_protection: enable_purge_protection.unwrap_or(false),
                enable_rbac_authorization: enable_rbac_authorization.unwrap_or(false),
            }),
            KeyvaultCmd::Show {
                name,
                resource_group,
            } => s.vault_show(&name, resource_group.as_deref()),
            KeyvaultCmd::List { resource_group } => s.vault_list(resource_group.as_deref()),
            KeyvaultCmd::Update {
                name,
                enable_purge_protection,
                retention_days,
                ..
            } => s.vault_update(&name, enable_purge_protection, retention_days),
            KeyvaultCmd::Delete { name, .. } => s.vault_delete(&name),
            KeyvaultCmd::Recover { name } => s.vault_recover(&name),
            KeyvaultCmd::Purge { name } => s.vault_purge(&name),
            KeyvaultCmd::ShowDeleted { name } => s.vault_show_deleted(&name),
            KeyvaultCmd::SetPolicy {
                name,
                object_id,
                key_permissions,
                ..
            } => s.vault_set_policy(&name, &object_id, &key_permissions),
            KeyvaultCmd::DeletePolicy {
                name, object_id, ..
            } => s.vault_delete_policy(&name, &object_id),
            KeyvaultCmd::Audit { name } => s.vault_audit(&name),
            KeyvaultCmd::Key(cmd) => cmd.run(s, cwd, files, made),
        }
    }
}

impl KeyCmd {
    pub fn run(
        self,
        s: &Service,
        _cwd: &Path,
        files: &ClientFiles,
        made: &mut Vec<ReplyFile>,
    ) -> Result<Value> {
        match self {
            KeyCmd::Create {
                key,
                protection,
                kty,
                size,
                dates,
            } => s.key_create_dated(
                &KeyArgs {
                    vault: key.vault_name,
                    name: key.name,
                    kty,
                    size,
                    protection,
                    pem: None,
                },
                dates.parse()?,
            ),
            KeyCmd::Import {
                key,
                pem_file,
                protection,
                dates,
            } => s.key_create_dated(
                &KeyArgs {
                    vault: key.vault_name,
                    name: key.name,
                    kty: "RSA".into(),
                    size: None,
                    protection,
                    pem: Some(ImportedPem {
                        source: pem_file.display().to_string(),
                        text: Zeroizing::new(files.get(&pem_file)?.to_string()),
                    }),
                },
                dates.parse()?,
            ),
            KeyCmd::Show {
                vault_name,
                name,
                version,
                id,
            } => match id {
                Some(url) => {
                    let url = KeyUrl::parse(&url)?;
                    s.key_show(&url.vault, &url.key, url.version.as_deref())
                }
                None => match (vault_name, name) {
                    (Some(v), Some(n)) => s.key_show(&v, &n, version.as_deref()),
                    _ => Err(Error::invalid("give --vault-name and --name, or --id")),
                },
            },
            KeyCmd::List { vault_name } => s.key_list(&vault_name),
            KeyCmd::ListVersions { key } => s.key_list_versions(&key.vault_name, &key.name),
            KeyCmd::Rotate { key } => s.key_rotate(&key.vault_name, &key.name),
            KeyCmd::SetAttributes {
                key,
                version,
                enabled,
                dates,
            } => {
                if enabled.is_none() && !dates.given() {
                    return Err(Error::invalid(
                        "give --enabled true|false, --expires or --not-before",
                    ));
                }
                let which = match version {
                    Some(v) => VersionSelector::Exact(v),
                    None => VersionSelector::Latest,
                };
                s.key_set_attributes(&key.vault_name, &key.name, which, enabled, dates.parse()?)
            }
            KeyCmd::Delete { key } => s.key_delete(&key.vault_name, &key.name),
            KeyCmd::Recover { key } => s.key_recover(&key.vault_name, &key.name),
            KeyCmd::Purge { key } => s.key_purge(&key.vault_name, &key.name),
            KeyCmd::ShowDeleted { key } => s.key_show_deleted(&key.vault_name, &key.name),
            KeyCmd::Backup { key, file } => {
                let bytes = s.key_backup(&key.vault_name, &key.name)?;
                made.push(ReplyFile::new(&file, &bytes));
                Ok(Value::Null)
            }
            KeyCmd::Restore { vault_name, file } => s.key_restore(
                &vault_name,
                &file.display().to_string(),
                &files.get_bytes(&file)?,
            ),
            KeyCmd::RotationPolicy(RotationPolicyCmd::Show { key }) => {
                s.key_rotation_policy_show(&key.vault_name, &key.name)
            }
            KeyCmd::RotationPolicy(RotationPolicyCmd::Update { key, value }) => {
                let json = match policy_file(&value) {
                    Some(path) => files.get(path)?,
                    None => value.as_str(),
                };
                s.key_rotation_policy_update(&key.vault_name, &key.name, json)
            }
        }
    }
}
