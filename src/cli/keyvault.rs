//! `ssefs keyvault …` and `ssefs keyvault key …`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::Value;

use super::az_args::{GenericUpdate, TagArgs};
use super::parse_bool;
use crate::clock;
use crate::daemon::remote::{ClientFiles, ReplyFile};
use crate::error::{Error, Result};
use crate::format::PolicyExtras;
use crate::ids::KeyUrl;
use crate::service::{ImportedPem, KeyArgs, RecordTarget, Recorded, Service, VaultArgs};
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
        #[command(flatten)]
        tags: TagArgs,
        /// Public network access to the vault: Enabled or Disabled (recorded: ssefs has no network).
        #[arg(long, value_parser = ["Enabled", "Disabled"], ignore_case = true)]
        public_network_access: Option<String>,
        /// [Vault Only] Property to specify whether Azure Disk Encryption is permitted to retrieve secrets from the vault and unwrap keys (recorded).
        #[arg(long, value_parser = parse_bool, num_args = 0..=1, default_missing_value = "true")]
        enabled_for_disk_encryption: Option<bool>,
        /// [Vault Only] Property to specify whether Azure Virtual Machines are permitted to retrieve certificates stored as secrets from the key vault (recorded).
        #[arg(long, value_parser = parse_bool, num_args = 0..=1, default_missing_value = "true")]
        enabled_for_deployment: Option<bool>,
        /// [Vault Only] Property to specify whether Azure Resource Manager is permitted to retrieve secrets from the key vault (recorded).
        #[arg(long, value_parser = parse_bool, num_args = 0..=1, default_missing_value = "true")]
        enabled_for_template_deployment: Option<bool>,
        /// Bypass traffic for space-separated uses: AzureServices or None (recorded).
        #[arg(long, value_parser = ["AzureServices", "None"], ignore_case = true)]
        bypass: Option<String>,
        /// Default action to apply when no rule matches: Allow or Deny (recorded).
        #[arg(long, value_parser = ["Allow", "Deny"], ignore_case = true)]
        default_action: Option<String>,
        /// Network ACLs. It accepts a JSON string (recorded).
        #[arg(long, value_name = "JSON")]
        network_acls: Option<String>,
        /// Network ACLs IP rules. Space-separated list of IP addresses (recorded).
        #[arg(long, num_args = 1..)]
        network_acls_ips: Vec<String>,
        /// Network ACLs VNet rules. Space-separated list of Vnet/Subnet pairs or subnet resource ids (recorded).
        #[arg(long, num_args = 1..)]
        network_acls_vnets: Vec<String>,
        /// [Vault Only] Don't add permissions for the current user/service principal in the new vault.
        #[arg(long)]
        no_self_perms: bool,
        /// Do not wait for the long-running operation to finish.
        #[arg(long)]
        no_wait: bool,
        /// Name of the HSM (not supported: ssefs has no managed HSM; a premium vault holds HSM-protected keys).
        #[arg(long = "hsm-name", value_name = "NAME")]
        refused_hsm_name: Option<String>,
        /// [HSM Only] Administrator role for data plane operations for Managed HSM (not supported: ssefs has no managed HSM).
        #[arg(value_name = "VALUE", long = "administrators", num_args = 1..)]
        refused_administrators: Vec<String>,
        /// [Vault Only] Enable user-assigned managed identities for the vault (not supported: a vault here needs no identity).
        #[arg(value_name = "VALUE", long = "mi-user-assigned", num_args = 1..)]
        refused_mi_user_assigned: Vec<String>,
    },
    /// Show a key vault.
    Show {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        /// Name of the HSM (not supported: ssefs has no managed HSM; a premium vault holds HSM-protected keys).
        #[arg(long = "hsm-name", value_name = "NAME")]
        refused_hsm_name: Option<String>,
    },
    /// List key vaults.
    List {
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        /// When --resource-type is not present the command will list all Vaults and HSMs: vault or hsm (ssefs has vaults only).
        #[arg(long, value_parser = ["vault", "hsm"], ignore_case = true)]
        resource_type: Option<String>,
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
        #[command(flatten)]
        update: GenericUpdate,
        /// Property that controls how data actions are authorized: true for role assignments, false for access policies.
        #[arg(long, value_parser = parse_bool, num_args = 0..=1, default_missing_value = "true")]
        enable_rbac_authorization: Option<bool>,
        /// Public network access to the vault: Enabled or Disabled (recorded: ssefs has no network).
        #[arg(long, value_parser = ["Enabled", "Disabled"], ignore_case = true)]
        public_network_access: Option<String>,
        /// [Vault Only] Property to specify whether Azure Disk Encryption is permitted to retrieve secrets from the vault and unwrap keys (recorded).
        #[arg(long, value_parser = parse_bool, num_args = 0..=1, default_missing_value = "true")]
        enabled_for_disk_encryption: Option<bool>,
        /// [Vault Only] Property to specify whether Azure Virtual Machines are permitted to retrieve certificates stored as secrets from the key vault (recorded).
        #[arg(long, value_parser = parse_bool, num_args = 0..=1, default_missing_value = "true")]
        enabled_for_deployment: Option<bool>,
        /// [Vault Only] Property to specify whether Azure Resource Manager is permitted to retrieve secrets from the key vault (recorded).
        #[arg(long, value_parser = parse_bool, num_args = 0..=1, default_missing_value = "true")]
        enabled_for_template_deployment: Option<bool>,
        /// Bypass traffic for space-separated uses: AzureServices or None (recorded).
        #[arg(long, value_parser = ["AzureServices", "None"], ignore_case = true)]
        bypass: Option<String>,
        /// Default action to apply when no rule matches: Allow or Deny (recorded).
        #[arg(long, value_parser = ["Allow", "Deny"], ignore_case = true)]
        default_action: Option<String>,
        /// Do not wait for the long-running operation to finish.
        #[arg(long)]
        no_wait: bool,
        /// Name of the HSM (not supported: ssefs has no managed HSM; a premium vault holds HSM-protected keys).
        #[arg(long = "hsm-name", value_name = "NAME")]
        refused_hsm_name: Option<String>,
    },
    /// Soft-delete a key vault.
    Delete {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        /// Do not wait for the long-running operation to finish.
        #[arg(long)]
        no_wait: bool,
        /// Name of the HSM (not supported: ssefs has no managed HSM; a premium vault holds HSM-protected keys).
        #[arg(long = "hsm-name", value_name = "NAME")]
        refused_hsm_name: Option<String>,
    },
    /// Recover a soft-deleted key vault.
    Recover {
        #[arg(short = 'n', long)]
        name: String,
        /// Location of the deleted Vault or HSM.
        #[arg(short = 'l', long)]
        location: Option<String>,
        /// Resource group of the deleted Vault or HSM.
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        /// Do not wait for the long-running operation to finish.
        #[arg(long)]
        no_wait: bool,
        /// Name of the HSM (not supported: ssefs has no managed HSM; a premium vault holds HSM-protected keys).
        #[arg(long = "hsm-name", value_name = "NAME")]
        refused_hsm_name: Option<String>,
    },
    /// Purge a soft-deleted key vault (refused while purge protection holds).
    Purge {
        #[arg(short = 'n', long)]
        name: String,
        /// Location of the deleted Vault or HSM.
        #[arg(short = 'l', long)]
        location: Option<String>,
        /// Do not wait for the long-running operation to finish.
        #[arg(long)]
        no_wait: bool,
        /// Name of the HSM (not supported: ssefs has no managed HSM; a premium vault holds HSM-protected keys).
        #[arg(long = "hsm-name", value_name = "NAME")]
        refused_hsm_name: Option<String>,
    },
    /// Show a soft-deleted key vault.
    ShowDeleted {
        #[arg(short = 'n', long)]
        name: String,
        /// Location of the deleted Vault or HSM.
        #[arg(short = 'l', long)]
        location: Option<String>,
        /// Name of the HSM (not supported: ssefs has no managed HSM; a premium vault holds HSM-protected keys).
        #[arg(long = "hsm-name", value_name = "NAME")]
        refused_hsm_name: Option<String>,
    },
    /// Grant key permissions to an object id (e.g. a disk encryption set's identity).
    SetPolicy {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        #[arg(long, required_unless_present_any = ["refused_spn", "refused_upn"])]
        object_id: Option<String>,
        /// Space-separated: get wrapKey unwrapKey … (case-insensitive), or all.
        #[arg(long, num_args = 1..)]
        key_permissions: Vec<String>,
        /// Space-separated list of secret permissions to assign (recorded: ssefs holds no secrets).
        #[arg(long, num_args = 1..)]
        secret_permissions: Vec<String>,
        /// Space-separated list of certificate permissions to assign (recorded: ssefs holds no certificates).
        #[arg(long, num_args = 1..)]
        certificate_permissions: Vec<String>,
        /// Space-separated list of storage permissions to assign (recorded).
        #[arg(long, num_args = 1..)]
        storage_permissions: Vec<String>,
        /// Application ID of the client making request on behalf of a principal (recorded).
        #[arg(long)]
        application_id: Option<String>,
        /// Name of a service principal that will receive permissions (not supported: give --object-id).
        #[arg(value_name = "VALUE", long = "spn")]
        refused_spn: Option<String>,
        /// Name of a user principal that will receive permissions (not supported: give --object-id).
        #[arg(value_name = "VALUE", long = "upn")]
        refused_upn: Option<String>,
        /// Do not wait for the long-running operation to finish.
        #[arg(long)]
        no_wait: bool,
    },
    /// Remove an object id's access policy.
    DeletePolicy {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        #[arg(long, required_unless_present_any = ["refused_spn", "refused_upn"])]
        object_id: Option<String>,
        /// Application ID of the client making request on behalf of a principal (accepted: one policy per object id here).
        #[arg(long)]
        application_id: Option<String>,
        /// Name of a service principal whose permissions are removed (not supported: give --object-id).
        #[arg(value_name = "VALUE", long = "spn")]
        refused_spn: Option<String>,
        /// Name of a user principal whose permissions are removed (not supported: give --object-id).
        #[arg(value_name = "VALUE", long = "upn")]
        refused_upn: Option<String>,
        /// Do not wait for the long-running operation to finish.
        #[arg(long)]
        no_wait: bool,
    },
    /// Show the vault's audit log (every get, wrap, unwrap, create, … with caller and outcome).
    Audit {
        #[arg(short = 'n', long)]
        name: String,
    },
    /// Keys.
    #[command(subcommand)]
    Key(KeyCmd),
    /// List soft-deleted key vaults.
    ListDeleted {
        /// When --resource-type is not present the command will list all deleted Vaults and HSMs: vault or hsm (ssefs has vaults only).
        #[arg(long, value_parser = ["vault", "hsm"], ignore_case = true)]
        resource_type: Option<String>,
    },
}

/// `--vault-name` and `-n` of a key.
#[derive(Debug, Args)]
pub struct KeyName {
    #[arg(long)]
    vault_name: String,
    #[arg(short = 'n', long)]
    name: String,
    /// Name of the HSM (not supported: ssefs has no managed HSM; a premium vault holds HSM-protected keys).
    #[arg(long = "hsm-name", value_name = "NAME")]
    refused_hsm_name: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    /// Create a key, or a new version of an existing one.
    Create {
        #[command(flatten)]
        key: KeyName,
        /// software, or hsm (in the PKCS#11 token of the hsm.* settings; premium vaults only).
        #[arg(long, default_value = "software")]
        #[arg(short = 'p')]
        protection: String,
        #[arg(long, default_value = "RSA")]
        kty: String,
        /// 2048, 3072 or 4096 (only 2048 can be used for disks).
        #[arg(long)]
        size: Option<usize>,
        #[command(flatten)]
        dates: DateArgs,
        /// Create key in disabled state.
        #[arg(long, value_parser = parse_bool, num_args = 0..=1, default_missing_value = "true")]
        disabled: Option<bool>,
        /// Space-separated list of permitted JSON web key operations: encrypt decrypt sign verify wrapKey unwrapKey.
        #[arg(long, num_args = 1..)]
        ops: Vec<String>,
        #[command(flatten)]
        tags: TagArgs,
        /// Can the private key be exported: only false (an exportable key needs a release policy, not supported).
        #[arg(long, value_parser = parse_bool, num_args = 0..=1, default_missing_value = "true")]
        exportable: Option<bool>,
        /// Elliptic curve name (not supported: ssefs keys are RSA).
        #[arg(value_name = "VALUE", long = "curve")]
        refused_curve: Option<String>,
        /// The policy rules under which the key can be exported (not supported: no release policies).
        #[arg(value_name = "VALUE", long = "policy")]
        refused_policy: Option<String>,
        /// Use default policy under which the key can be exported (not supported: no release policies).
        #[arg(long = "default-policy")]
        refused_default_policy: bool,
        /// Mark a release policy immutable (not supported: no release policies).
        #[arg(value_name = "VALUE", long = "immutable", num_args = 0..=1, default_missing_value = "true")]
        refused_immutable: Option<String>,
    },
    /// Import an RSA private key from a PEM file as a new version.
    Import {
        #[command(flatten)]
        key: KeyName,
        #[arg(long, required_unless_present_any = ["pem_string", "refused_byok_file", "refused_byok_string"])]
        pem_file: Option<PathBuf>,
        #[arg(long, default_value = "software")]
        #[arg(short = 'p')]
        protection: String,
        #[command(flatten)]
        dates: DateArgs,
        /// PEM string containing the key to be imported.
        #[arg(long, conflicts_with = "pem_file", allow_hyphen_values = true)]
        pem_string: Option<String>,
        /// The key type: RSA or RSA-HSM (EC and oct are not supported).
        #[arg(long)]
        kty: Option<String>,
        /// Create key in disabled state.
        #[arg(long, value_parser = parse_bool, num_args = 0..=1, default_missing_value = "true")]
        disabled: Option<bool>,
        /// Space-separated list of permitted JSON web key operations: encrypt decrypt sign verify wrapKey unwrapKey.
        #[arg(long, num_args = 1..)]
        ops: Vec<String>,
        #[command(flatten)]
        tags: TagArgs,
        /// Can the private key be exported: only false (an exportable key needs a release policy, not supported).
        #[arg(long, value_parser = parse_bool, num_args = 0..=1, default_missing_value = "true")]
        exportable: Option<bool>,
        /// Elliptic curve name (not supported: ssefs keys are RSA).
        #[arg(value_name = "VALUE", long = "curve")]
        refused_curve: Option<String>,
        /// The policy rules under which the key can be exported (not supported: no release policies).
        #[arg(value_name = "VALUE", long = "policy")]
        refused_policy: Option<String>,
        /// Use default policy under which the key can be exported (not supported: no release policies).
        #[arg(long = "default-policy")]
        refused_default_policy: bool,
        /// Mark a release policy immutable (not supported: no release policies).
        #[arg(value_name = "VALUE", long = "immutable", num_args = 0..=1, default_missing_value = "true")]
        refused_immutable: Option<String>,
        /// Password to decrypt the PEM key (not supported: decrypt it first, e.g. openssl pkey -in KEY.pem -out PLAIN.pem).
        #[arg(value_name = "VALUE", long = "pem-password")]
        refused_pem_password: Option<String>,
        /// BYOK file exported from a local HSM (not supported: no key exchange keys).
        #[arg(value_name = "VALUE", long = "byok-file")]
        refused_byok_file: Option<PathBuf>,
        /// BYOK key content exported from a local HSM (not supported: no key exchange keys).
        #[arg(value_name = "VALUE", long = "byok-string")]
        refused_byok_string: Option<String>,
    },
    /// Show a key (latest version unless --version, or a key URL with --id).
    Show {
        #[arg(long, required_unless_present = "id")]
        vault_name: Option<String>,
        #[arg(short = 'n', long, required_unless_present = "id")]
        name: Option<String>,
        #[arg(long)]
        #[arg(short = 'v')]
        version: Option<String>,
        /// A key URL instead of --vault-name/--name/--version.
        #[arg(long, conflicts_with_all = ["vault_name", "name"])]
        id: Option<String>,
        /// Name of the HSM (not supported: ssefs has no managed HSM; a premium vault holds HSM-protected keys).
        #[arg(long = "hsm-name", value_name = "NAME")]
        refused_hsm_name: Option<String>,
    },
    /// List the keys of a vault.
    List {
        #[arg(long, required_unless_present = "id")]
        vault_name: Option<String>,
        /// Full URI of the Vault. If specified all other 'Id' arguments should be omitted.
        #[arg(long, conflicts_with = "vault_name")]
        id: Option<String>,
        /// Maximum number of results to return in a page.
        #[arg(long = "maxresults", id = "max_items", value_name = "N")]
        max_results: Option<usize>,
        /// Include managed keys (accepted: ssefs has no managed keys).
        #[arg(long)]
        include_managed: bool,
        /// Name of the HSM (not supported: ssefs has no managed HSM; a premium vault holds HSM-protected keys).
        #[arg(long = "hsm-name", value_name = "NAME")]
        refused_hsm_name: Option<String>,
    },
    /// List the versions of a key.
    ListVersions {
        /// Name of the Key Vault.
        #[arg(long, required_unless_present = "id")]
        vault_name: Option<String>,
        /// Name of the key.
        #[arg(short = 'n', long, required_unless_present = "id")]
        name: Option<String>,
        /// Id of the key. If specified all other 'Id' arguments should be omitted.
        #[arg(long, conflicts_with_all = ["vault_name", "name"])]
        id: Option<String>,
        /// Maximum number of results to return in a page.
        #[arg(long = "maxresults", id = "max_items", value_name = "N")]
        max_results: Option<usize>,
        /// Name of the HSM (not supported: ssefs has no managed HSM; a premium vault holds HSM-protected keys).
        #[arg(long = "hsm-name", value_name = "NAME")]
        refused_hsm_name: Option<String>,
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
        /// Space-separated list of permitted JSON web key operations: encrypt decrypt sign verify wrapKey unwrapKey.
        #[arg(long, num_args = 1..)]
        ops: Vec<String>,
        #[command(flatten)]
        tags: TagArgs,
        /// Mark a release policy immutable (not supported: no release policies).
        #[arg(value_name = "VALUE", long = "immutable", num_args = 0..=1, default_missing_value = "true")]
        refused_immutable: Option<String>,
        /// The policy rules under which the key can be exported (not supported: no release policies).
        #[arg(value_name = "VALUE", long = "policy")]
        refused_policy: Option<String>,
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
    /// Encrypt an arbitrary sequence of bytes using an encryption key that is stored in a key vault (RSA-OAEP-256).
    Encrypt {
        /// Name of the Key Vault.
        #[arg(long, required_unless_present = "id")]
        vault_name: Option<String>,
        /// Name of the key.
        #[arg(short = 'n', long, required_unless_present = "id")]
        name: Option<String>,
        /// The key version. If omitted, uses the latest version.
        #[arg(short = 'v', long)]
        version: Option<String>,
        /// Id of the key. If specified all other 'Id' arguments should be omitted.
        #[arg(long, conflicts_with_all = ["vault_name", "name"])]
        id: Option<String>,
        /// Algorithm identifier: RSA-OAEP-256 (RSA-OAEP, RSA1_5 and the AES algorithms are not supported).
        #[arg(long)]
        algorithm: String,
        /// The value to be encrypted. Default data type is Base64 encoded string.
        #[arg(long, allow_hyphen_values = true)]
        value: String,
        /// The type of the original data: base64 or plaintext.
        #[arg(long, default_value = "base64", value_parser = ["base64", "plaintext"], ignore_case = true)]
        data_type: String,
        /// Optional data that is authenticated but not encrypted. For use with AES-GCM encryption (not supported: RSA-OAEP-256 only).
        #[arg(value_name = "VALUE", long = "aad")]
        refused_aad: Option<String>,
        /// Initialization vector. Required for only AES-CBC(PAD) encryption (not supported: RSA-OAEP-256 only).
        #[arg(value_name = "VALUE", long = "iv")]
        refused_iv: Option<String>,
        /// Name of the HSM (not supported: ssefs has no managed HSM; a premium vault holds HSM-protected keys).
        #[arg(long = "hsm-name", value_name = "NAME")]
        refused_hsm_name: Option<String>,
    },
    /// Decrypt a single block of encrypted data (RSA-OAEP-256).
    Decrypt {
        /// Name of the Key Vault.
        #[arg(long, required_unless_present = "id")]
        vault_name: Option<String>,
        /// Name of the key.
        #[arg(short = 'n', long, required_unless_present = "id")]
        name: Option<String>,
        /// The key version. If omitted, uses the latest version.
        #[arg(short = 'v', long)]
        version: Option<String>,
        /// Id of the key. If specified all other 'Id' arguments should be omitted.
        #[arg(long, conflicts_with_all = ["vault_name", "name"])]
        id: Option<String>,
        /// Algorithm identifier: RSA-OAEP-256 (RSA-OAEP, RSA1_5 and the AES algorithms are not supported).
        #[arg(long)]
        algorithm: String,
        /// The value to be decrypted, base64-encoded.
        #[arg(long, allow_hyphen_values = true)]
        value: String,
        /// The type of the original data: base64 or plaintext (the result is shown as this).
        #[arg(long, default_value = "base64", value_parser = ["base64", "plaintext"], ignore_case = true)]
        data_type: String,
        /// Optional data that is authenticated but not encrypted. For use with AES-GCM encryption (not supported: RSA-OAEP-256 only).
        #[arg(value_name = "VALUE", long = "aad")]
        refused_aad: Option<String>,
        /// Initialization vector. Required for only AES-CBC(PAD) encryption (not supported: RSA-OAEP-256 only).
        #[arg(value_name = "VALUE", long = "iv")]
        refused_iv: Option<String>,
        /// The authentication tag generated during encryption. Required for only AES-GCM encryption (not supported: RSA-OAEP-256 only).
        #[arg(value_name = "VALUE", long = "tag")]
        refused_tag: Option<String>,
        /// Name of the HSM (not supported: ssefs has no managed HSM; a premium vault holds HSM-protected keys).
        #[arg(long = "hsm-name", value_name = "NAME")]
        refused_hsm_name: Option<String>,
    },
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
            KeyvaultCmd::Key(KeyCmd::Import {
                pem_file: Some(pem_file),
                ..
            }) => files.read(cwd, pem_file),
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
                tags,
                public_network_access,
                enabled_for_disk_encryption,
                enabled_for_deployment,
                enabled_for_template_deployment,
                bypass,
                default_action,
                network_acls,
                network_acls_ips,
                network_acls_vnets,
                no_self_perms,
                ..
            } => {
                let mut recorded = Recorded {
                    tags: tags.parse()?,
                    ..Default::default()
                };
                if let Some(acls) = network_acls {
                    let json: Value = serde_json::from_str(&acls).map_err(|_| {
                        Error::invalid("--network-acls takes a JSON object (a file is not read: pass its text)")
                    })?;
                    recorded.set.push(("properties.networkAcls".into(), json));
                }
                vault_network(
                    &mut recorded,
                    VaultNetwork {
                        public_network_access,
                        enabled_for_disk_encryption,
                        enabled_for_deployment,
                        enabled_for_template_deployment,
                        bypass,
                        default_action,
                    },
                );
                if !network_acls_ips.is_empty() {
                    let rules: Vec<Value> = network_acls_ips
                        .iter()
                        .map(|ip| serde_json::json!({ "value": ip }))
                        .collect();
                    recorded
                        .set
                        .push(("properties.networkAcls.ipRules".into(), rules.into()));
                }
                if !network_acls_vnets.is_empty() {
                    let rules: Vec<Value> = network_acls_vnets
                        .iter()
                        .map(|id| serde_json::json!({ "id": id, "ignoreMissingVnetServiceEndpoint": null }))
                        .collect();
                    recorded.set.push((
                        "properties.networkAcls.virtualNetworkRules".into(),
                        rules.into(),
                    ));
                }
                let rbac = enable_rbac_authorization.unwrap_or(false);
                let out = s.vault_create(&VaultArgs {
                    sku,
                    name: name.clone(),
                    resource_group,
                    location,
                    enable_soft_delete: enable_soft_delete.unwrap_or(true),
                    retention_days,
                    enable_purge_protection: enable_purge_protection.unwrap_or(false),
                    enable_rbac_authorization: rbac,
                })?;
                if no_self_perms && !rbac {
                    s.vault_drop_creator_policy(&name)?;
                }
                if recorded.is_empty() && !no_self_perms {
                    return Ok(out);
                }
                s.record(RecordTarget::Vault(&name), &recorded)?;
                s.vault_show(&name, None)
            }
            KeyvaultCmd::Show {
                name,
                resource_group,
                ..
            } => s.vault_show(&name, resource_group.as_deref()),
            KeyvaultCmd::List {
                resource_group,
                resource_type,
            } => {
                let all = s.vault_list(resource_group.as_deref())?;
                // ssefs has no managed HSMs: a listing of them is empty.
                Ok(match resource_type {
                    Some(t) if t.eq_ignore_ascii_case("hsm") => Value::Array(Vec::new()),
                    _ => all,
                })
            }
            KeyvaultCmd::Update {
                name,
                enable_purge_protection,
                retention_days,
                update,
                enable_rbac_authorization,
                public_network_access,
                enabled_for_disk_encryption,
                enabled_for_deployment,
                enabled_for_template_deployment,
                bypass,
                default_action,
                ..
            } => {
                let mut recorded = update.recorded(None)?;
                vault_network(
                    &mut recorded,
                    VaultNetwork {
                        public_network_access,
                        enabled_for_disk_encryption,
                        enabled_for_deployment,
                        enabled_for_template_deployment,
                        bypass,
                        default_action,
                    },
                );
                // The paths az scripts --set that have a meaning here go to their options.
                let enable_purge_protection =
                    match recorded.take("properties.enablePurgeProtection") {
                        Some(v) => Some(set_bool("properties.enablePurgeProtection", &v)?),
                        None => enable_purge_protection,
                    };
                let retention_days = match recorded.take("properties.softDeleteRetentionInDays") {
                    Some(v) => Some(
                        v.as_u64()
                            .or_else(|| v.as_str().and_then(|t| t.parse().ok()))
                            .and_then(|d| u32::try_from(d).ok())
                            .ok_or_else(|| {
                                Error::invalid("--set properties.softDeleteRetentionInDays takes a number of days")
                            })?,
                    ),
                    None => retention_days,
                };
                let enable_rbac_authorization =
                    match recorded.take("properties.enableRbacAuthorization") {
                        Some(v) => Some(set_bool("properties.enableRbacAuthorization", &v)?),
                        None => enable_rbac_authorization,
                    };
                if let Some(v) = recorded.take("properties.enableSoftDelete")
                    && !set_bool("properties.enableSoftDelete", &v)?
                {
                    return Err(Error::not_allowed(
                        "soft delete cannot be turned off: it is always on for key vaults",
                    ));
                }
                let out = s.vault_update(&name, enable_purge_protection, retention_days)?;
                if let Some(rbac) = enable_rbac_authorization {
                    s.vault_set_rbac(&name, rbac)?;
                } else if recorded.is_empty() {
                    return Ok(out);
                }
                s.record(RecordTarget::Vault(&name), &recorded)?;
                s.vault_show(&name, None)
            }
            KeyvaultCmd::Delete { name, .. } => s.vault_delete(&name),
            KeyvaultCmd::Recover { name, location, .. } => {
                s.vault_check_deleted_location(&name, location.as_deref())?;
                s.vault_recover(&name)
            }
            KeyvaultCmd::Purge { name, location, .. } => {
                s.vault_check_deleted_location(&name, location.as_deref())?;
                s.vault_purge(&name)
            }
            KeyvaultCmd::ShowDeleted { name, location, .. } => {
                s.vault_check_deleted_location(&name, location.as_deref())?;
                s.vault_show_deleted(&name)
            }
            KeyvaultCmd::ListDeleted { resource_type } => Ok(match resource_type {
                Some(t) if t.eq_ignore_ascii_case("hsm") => Value::Array(Vec::new()),
                _ => s.vault_list_deleted()?,
            }),
            KeyvaultCmd::SetPolicy {
                name,
                object_id,
                key_permissions,
                secret_permissions,
                certificate_permissions,
                storage_permissions,
                application_id,
                ..
            } => {
                let object_id = object_id.unwrap_or_default();
                let extras = PolicyExtras {
                    application_id,
                    secret_permissions,
                    certificate_permissions,
                    storage_permissions,
                };
                if key_permissions.is_empty() && extras.is_empty() {
                    return Err(Error::invalid(
                        "give at least one of --key-permissions, --secret-permissions, --certificate-permissions, --storage-permissions",
                    ));
                }
                let mut out = Value::Null;
                if !key_permissions.is_empty() {
                    out = s.vault_set_policy(&name, &object_id, &key_permissions)?;
                }
                if extras.is_empty() {
                    return Ok(out);
                }
                s.vault_policy_extras(&name, &object_id, &extras)?;
                s.vault_show(&name, None)
            }
            KeyvaultCmd::DeletePolicy {
                name, object_id, ..
            } => s.vault_delete_policy(&name, &object_id.unwrap_or_default()),
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
                disabled,
                ops,
                tags,
                exportable,
                ..
            } => {
                refuse_exportable(exportable)?;
                let tags = tags.parse()?;
                let (vault, name) = (key.vault_name.clone(), key.name.clone());
                let out = s.key_create_dated(
                    &KeyArgs {
                        vault: key.vault_name,
                        name: key.name,
                        kty,
                        size,
                        protection,
                        pem: None,
                    },
                    dates.parse()?,
                )?;
                after_key_create(s, &vault, &name, out, disabled, &ops, tags)
            }
            KeyCmd::Import {
                key,
                pem_file,
                protection,
                dates,
                pem_string,
                kty,
                disabled,
                ops,
                tags,
                exportable,
                ..
            } => {
                refuse_exportable(exportable)?;
                let tags = tags.parse()?;
                let pem = match (pem_file, pem_string) {
                    (Some(file), _) => ImportedPem {
                        source: file.display().to_string(),
                        text: Zeroizing::new(files.get(&file)?.to_string()),
                    },
                    (None, Some(text)) => ImportedPem {
                        source: "--pem-string".into(),
                        text: Zeroizing::new(text),
                    },
                    (None, None) => return Err(Error::invalid("give --pem-file or --pem-string")),
                };
                let protection = match kty.as_deref() {
                    None => protection,
                    Some(k) if k.eq_ignore_ascii_case("RSA") => protection,
                    Some(k) if k.eq_ignore_ascii_case("RSA-HSM") => "hsm".into(),
                    Some(k) => {
                        return Err(Error::not_supported(format!(
                            "--kty {}: ssefs imports RSA keys only",
                            k.chars().take(20).collect::<String>()
                        )));
                    }
                };
                let (vault, name) = (key.vault_name.clone(), key.name.clone());
                let out = s.key_create_dated(
                    &KeyArgs {
                        vault: key.vault_name,
                        name: key.name,
                        kty: "RSA".into(),
                        size: None,
                        protection,
                        pem: Some(pem),
                    },
                    dates.parse()?,
                )?;
                after_key_create(s, &vault, &name, out, disabled, &ops, tags)
            }
            KeyCmd::Show {
                vault_name,
                name,
                version,
                id,
                ..
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
            KeyCmd::List { vault_name, id, .. } => {
                let vault = match (vault_name, id) {
                    (Some(v), _) => v,
                    (None, Some(uri)) => vault_of_uri(&uri)?,
                    (None, None) => return Err(Error::invalid("give --vault-name or --id")),
                };
                s.key_list(&vault)
            }
            KeyCmd::ListVersions {
                vault_name,
                name,
                id,
                ..
            } => match (vault_name, name, id) {
                (Some(v), Some(n), _) => s.key_list_versions(&v, &n),
                (_, _, Some(url)) => {
                    let url = KeyUrl::parse(&url)?;
                    s.key_list_versions(&url.vault, &url.key)
                }
                _ => Err(Error::invalid("give --vault-name and --name, or --id")),
            },
            KeyCmd::Rotate { key } => s.key_rotate(&key.vault_name, &key.name),
            KeyCmd::SetAttributes {
                key,
                version,
                enabled,
                dates,
                ops,
                tags,
                ..
            } => {
                let tags = tags.parse()?;
                let extras = !ops.is_empty() || tags.is_some();
                if enabled.is_none() && !dates.given() && !extras {
                    return Err(Error::invalid(
                        "give --enabled true|false, --expires, --not-before, --ops or --tags",
                    ));
                }
                if extras && version.is_some() {
                    return Err(Error::not_supported(
                        "--ops and --tags with --version: ssefs sets them on the latest version only",
                    ));
                }
                let which = match version {
                    Some(v) => VersionSelector::Exact(v),
                    None => VersionSelector::Latest,
                };
                let out = if enabled.is_some() || dates.given() {
                    s.key_set_attributes(
                        &key.vault_name,
                        &key.name,
                        which,
                        enabled,
                        dates.parse()?,
                    )?
                } else {
                    Value::Null
                };
                if !extras {
                    return Ok(out);
                }
                if !ops.is_empty() {
                    s.key_set_ops(&key.vault_name, &key.name, &ops)?;
                }
                if tags.is_some() {
                    let recorded = Recorded {
                        tags,
                        ..Default::default()
                    };
                    s.record(
                        RecordTarget::Key {
                            vault: &key.vault_name,
                            key: &key.name,
                        },
                        &recorded,
                    )?;
                }
                s.key_show(&key.vault_name, &key.name, None)
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
            KeyCmd::Encrypt {
                vault_name,
                name,
                version,
                id,
                algorithm,
                value,
                data_type,
                ..
            } => {
                let url = key_target(vault_name, name, version, id)?;
                let plain = if data_type.eq_ignore_ascii_case("plaintext") {
                    Zeroizing::new(value.into_bytes())
                } else {
                    Zeroizing::new(decode_base64(&value)?)
                };
                s.key_encrypt(&url, &algorithm, &plain)
            }
            KeyCmd::Decrypt {
                vault_name,
                name,
                version,
                id,
                algorithm,
                value,
                data_type,
                ..
            } => {
                let url = key_target(vault_name, name, version, id)?;
                let cipher = decode_base64(&value)?;
                s.key_decrypt(
                    &url,
                    &algorithm,
                    &cipher,
                    data_type.eq_ignore_ascii_case("plaintext"),
                )
            }
        }
    }
}

/// The vault and network settings of `keyvault create|update` that are recorded.
struct VaultNetwork {
    public_network_access: Option<String>,
    enabled_for_disk_encryption: Option<bool>,
    enabled_for_deployment: Option<bool>,
    enabled_for_template_deployment: Option<bool>,
    bypass: Option<String>,
    default_action: Option<String>,
}

/// Records the vault's network settings at their place in `keyvault show`.
fn vault_network(recorded: &mut Recorded, n: VaultNetwork) {
    use super::az_args::record;
    let set = &mut recorded.set;
    record(
        set,
        "properties.publicNetworkAccess",
        n.public_network_access
            .map(|v| Value::String(title_case(&v))),
    );
    record(
        set,
        "properties.enabledForDiskEncryption",
        n.enabled_for_disk_encryption.map(Value::Bool),
    );
    record(
        set,
        "properties.enabledForDeployment",
        n.enabled_for_deployment.map(Value::Bool),
    );
    record(
        set,
        "properties.enabledForTemplateDeployment",
        n.enabled_for_template_deployment.map(Value::Bool),
    );
    record(
        set,
        "properties.networkAcls.bypass",
        n.bypass.map(|v| {
            Value::String(if v.eq_ignore_ascii_case("none") {
                "None".into()
            } else {
                "AzureServices".into()
            })
        }),
    );
    record(
        set,
        "properties.networkAcls.defaultAction",
        n.default_action.map(|v| Value::String(title_case(&v))),
    );
}

/// A boolean given to `--set` (JSON true/false, or the text).
fn set_bool(path: &str, v: &Value) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => parse_bool(s).map_err(|e| Error::invalid(format!("--set {path}: {e}"))),
        _ => Err(Error::invalid(format!("--set {path} takes true or false"))),
    }
}

/// `enabled` → `Enabled`: az's enum spelling of a value matched case-insensitively.
fn title_case(v: &str) -> String {
    let mut chars = v.chars();
    match chars.next() {
        Some(first) => {
            first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
        }
        None => String::new(),
    }
}

/// `--exportable true` is refused: an exportable key needs a release policy.
fn refuse_exportable(exportable: Option<bool>) -> Result<()> {
    if exportable == Some(true) {
        return Err(Error::not_supported(
            "--exportable: an exportable key needs a release policy (--policy), which ssefs does not support",
        ));
    }
    Ok(())
}

/// What `key create|import` do after the version exists: `--disabled`, `--ops`, `--tags`.
fn after_key_create(
    s: &Service,
    vault: &str,
    name: &str,
    out: Value,
    disabled: Option<bool>,
    ops: &[String],
    tags: Option<std::collections::BTreeMap<String, String>>,
) -> Result<Value> {
    let disabled = disabled == Some(true);
    if !disabled && ops.is_empty() && tags.is_none() {
        return Ok(out);
    }
    if !ops.is_empty() {
        s.key_set_ops(vault, name, ops)?;
    }
    if tags.is_some() {
        let recorded = Recorded {
            tags,
            ..Default::default()
        };
        s.record(RecordTarget::Key { vault, key: name }, &recorded)?;
    }
    if disabled {
        s.key_set_attributes(
            vault,
            name,
            VersionSelector::Latest,
            Some(false),
            VersionDates::default(),
        )?;
    }
    s.key_show(vault, name, None)
}

/// The vault of `--id https://VAULT.vault.azure.net[/]`.
fn vault_of_uri(uri: &str) -> Result<String> {
    let host = uri
        .strip_prefix("https://")
        .map(|rest| rest.split('/').next().unwrap_or_default())
        .unwrap_or_default();
    match host.split_once('.') {
        Some((vault, domain))
            if !vault.is_empty() && domain.eq_ignore_ascii_case(crate::ids::VAULT_DOMAIN) =>
        {
            Ok(vault.to_string())
        }
        _ => Err(Error::invalid(format!(
            "--id '{}' is not a vault URI (https://VAULT.{}/)",
            uri.chars().take(80).collect::<String>(),
            crate::ids::VAULT_DOMAIN
        ))),
    }
}

/// The key of `--vault-name/--name/--version` or `--id`.
fn key_target(
    vault_name: Option<String>,
    name: Option<String>,
    version: Option<String>,
    id: Option<String>,
) -> Result<KeyUrl> {
    match (vault_name, name, id) {
        (_, _, Some(url)) => KeyUrl::parse(&url),
        (Some(vault), Some(key), None) => Ok(KeyUrl {
            vault,
            key,
            version,
        }),
        _ => Err(Error::invalid("give --vault-name and --name, or --id")),
    }
}

/// Standard or URL-safe base64, padded or not.
fn decode_base64(text: &str) -> Result<Vec<u8>> {
    use base64ct::{Base64, Base64Unpadded, Base64UrlUnpadded, Encoding};
    let t = text.trim();
    Base64::decode_vec(t)
        .or_else(|_| Base64Unpadded::decode_vec(t))
        .or_else(|_| Base64UrlUnpadded::decode_vec(t.trim_end_matches('=')))
        .map_err(|_| Error::invalid("--value is not base64 (use --data-type plaintext for text)"))
}
