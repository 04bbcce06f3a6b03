//! az-shaped JSON for each resource, built from the records: the field names scripts query.

use serde_json::{Value, json};

use crate::clock;
use crate::format::{
    DesRecord, KeyRecord, KeyRef, KeyVersionRecord, StoreRecord, VaultRecord, VolumeKind,
    VolumeRecord,
};
use crate::ids::{KeyUrl, Kind, ResourceId, VAULT_DOMAIN};
use crate::vault::{Vaults, rotation_policy};

const GIB: u64 = 1 << 30;

/// The signed-in user's name (`account show --query user.name`); `role assignment create
/// --assignee` accepts it for the user's object id.
pub const USER_NAME: &str = "ssefs-user";

/// `account show`.
pub fn account(rec: &StoreRecord) -> Value {
    json!({
        "environmentName": "AzureCloud",
        "homeTenantId": rec.tenant_id,
        "id": rec.subscription_id,
        "isDefault": true,
        "name": rec.subscription_name,
        "state": "Enabled",
        "tenantId": rec.tenant_id,
        "user": { "name": USER_NAME, "type": "user", "objectId": rec.user_object_id },
    })
}

/// `keyvault show`.
pub fn vault(rec: &VaultRecord) -> Value {
    let mut out = vault_base(rec);
    super::recorded::show(&mut out, &rec.tags, &rec.settings);
    out
}

fn vault_base(rec: &VaultRecord) -> Value {
    let policies: Vec<Value> = rec
        .access_policies
        .iter()
        .map(|p| {
            json!({
                "applicationId": p.extras.application_id,
                "objectId": p.object_id,
                "permissions": {
                    "certificates": p.extras.certificate_permissions,
                    "keys": p.key_permissions,
                    "secrets": p.extras.secret_permissions,
                    "storage": p.extras.storage_permissions,
                },
                "tenantId": p.tenant_id,
            })
        })
        .collect();
    json!({
        "id": Vaults::vault_id(rec),
        "location": rec.location,
        "name": rec.name,
        "properties": {
            "accessPolicies": policies,
            "enablePurgeProtection": if rec.enable_purge_protection { Value::Bool(true) } else { Value::Null },
            "enableRbacAuthorization": rec.enable_rbac_authorization,
            "enableSoftDelete": rec.enable_soft_delete,
            "provisioningState": "Succeeded",
            "publicNetworkAccess": "Enabled",
            "sku": { "family": "A", "name": rec.sku.as_deref().unwrap_or("standard") },
            "softDeleteRetentionInDays": rec.soft_delete_retention_in_days,
            "tenantId": rec.tenant_id,
            "vaultUri": format!("https://{}.{VAULT_DOMAIN}/", rec.name.to_ascii_lowercase()),
        },
        "resourceGroup": rec.resource_group,
        "tags": {},
        "type": "Microsoft.KeyVault/vaults",
    })
}

/// A soft-deleted vault (`keyvault show-deleted`, `delete` output).
pub fn deleted_vault(rec: &VaultRecord) -> Value {
    let mut v = vault(rec);
    v["type"] = json!("Microsoft.KeyVault/deletedVaults");
    if let Some(d) = &rec.deleted {
        v["properties"]["deletionDate"] = json!(clock::rfc3339(d.deleted_at));
        v["properties"]["scheduledPurgeDate"] = json!(clock::rfc3339(d.scheduled_purge_at));
    }
    v
}

fn recovery_level(vault: &VaultRecord) -> &'static str {
    match (vault.enable_soft_delete, vault.enable_purge_protection) {
        (true, true) => "Recoverable",
        (true, false) => "Recoverable+Purgeable",
        (false, _) => "Purgeable",
    }
}

fn key_attributes(vault: &VaultRecord, v: &KeyVersionRecord) -> Value {
    json!({
        "created": clock::rfc3339(v.created),
        "enabled": v.enabled,
        "expires": v.expires.map(clock::rfc3339),
        "exportable": false,
        "notBefore": v.not_before.map(clock::rfc3339),
        "recoverableDays": vault.soft_delete_retention_in_days,
        "recoveryLevel": recovery_level(vault),
        "updated": clock::rfc3339(v.updated),
    })
}

/// `keyvault key show` of one version.
pub fn key(vault: &VaultRecord, key: &KeyRecord, v: &KeyVersionRecord) -> Value {
    let mut out = json!({
        "attributes": key_attributes(vault, v),
        "key": {
            "crv": null,
            "e": v.e,
            "keyOps": v.key_ops.clone().unwrap_or_else(|| ALL_KEY_OPS.iter().map(|o| o.to_string()).collect()),
            "kid": KeyUrl::format(&vault.name, &key.name, &v.id),
            "kty": if key.protection == "hsm" { "RSA-HSM" } else { "RSA" },
            "n": v.n,
        },
        "managed": null,
        "name": key.name,
        "releasePolicy": null,
        "tags": key_tags(key),
    });
    if let Some(d) = &key.deleted {
        out["deletedDate"] = json!(clock::rfc3339(d.deleted_at));
        out["scheduledPurgeDate"] = json!(clock::rfc3339(d.scheduled_purge_at));
        out["recoveryId"] = json!(format!(
            "https://{}.{VAULT_DOMAIN}/deletedkeys/{}",
            vault.name.to_ascii_lowercase(),
            key.name
        ));
    }
    out
}

/// `keyvault key rotation-policy show|update`: az's shape (the SDK's `KeyRotationPolicy`:
/// `expiresIn`, `createdOn`, `updatedOn`, and each action as `{action, timeAfterCreate,
/// timeBeforeExpiry}`), plus the REST API's `attributes` (`created` and `updated` in Unix
/// seconds, `expiryTime`). A key without a policy shows Key Vault's default: notify 30 days
/// before expiry, no dates.
pub fn rotation_policy(vault: &VaultRecord, key: &KeyRecord) -> Value {
    let (actions, expiry, created, updated) = match &key.rotation_policy {
        Some(p) => (
            p.lifetime_actions.clone(),
            p.expiry_time.clone(),
            Some(p.created),
            Some(p.updated),
        ),
        None => (rotation_policy::default_actions(), None, None, None),
    };
    json!({
        "attributes": {
            "created": created,
            "expiryTime": expiry,
            "updated": updated,
        },
        "createdOn": created.map(clock::rfc3339),
        "expiresIn": expiry,
        "id": crate::vault::policy_id(&vault.name, &key.name),
        "lifetimeActions": actions
            .iter()
            .map(|a| json!({
                "action": a.action,
                "timeAfterCreate": a.time_after_create,
                "timeBeforeExpiry": a.time_before_expiry,
            }))
            .collect::<Vec<_>>(),
        "updatedOn": updated.map(clock::rfc3339),
    })
}

/// The operations a key version permits when `--ops` did not restrict them.
pub const ALL_KEY_OPS: &[&str] = &[
    "encrypt",
    "decrypt",
    "sign",
    "verify",
    "wrapKey",
    "unwrapKey",
];

/// A key's tags as az shows them: null when there are none.
fn key_tags(key: &KeyRecord) -> Value {
    if key.tags.is_empty() {
        Value::Null
    } else {
        json!(key.tags)
    }
}

/// One entry of `keyvault key list`.
pub fn key_list_item(vault: &VaultRecord, key: &KeyRecord) -> Value {
    let latest = key.versions.last();
    json!({
        "attributes": latest.map(|v| key_attributes(vault, v)),
        "kid": format!("https://{}.{VAULT_DOMAIN}/keys/{}", vault.name.to_ascii_lowercase(), key.name),
        "managed": null,
        "name": key.name,
        "tags": key_tags(key),
    })
}

/// One entry of `keyvault key list-versions`.
pub fn key_version_item(vault: &VaultRecord, key: &KeyRecord, v: &KeyVersionRecord) -> Value {
    json!({
        "attributes": key_attributes(vault, v),
        "kid": KeyUrl::format(&vault.name, &key.name, &v.id),
        "managed": null,
        "name": key.name,
        "tags": key_tags(key),
    })
}

fn key_ref(k: &KeyRef) -> Value {
    json!({ "keyUrl": k.key_url, "sourceVault": { "id": k.source_vault_id } })
}

/// The resource id of a disk encryption set.
pub fn des_id(rec: &DesRecord) -> String {
    ResourceId::format(
        &rec.subscription_id,
        &rec.resource_group,
        Kind::DiskEncryptionSet,
        &rec.name,
    )
}

/// `disk-encryption-set show`.
pub fn des(rec: &DesRecord) -> Value {
    let mut out = des_base(rec);
    if rec.source_vault_implied {
        out["activeKey"]["sourceVault"] = Value::Null;
    }
    if !rec.user_assigned_identities.is_empty() {
        out["identity"]["type"] = json!("SystemAssigned, UserAssigned");
        out["identity"]["userAssignedIdentities"] = json!(rec.user_assigned_identities);
    }
    super::recorded::show(&mut out, &rec.tags, &rec.settings);
    out
}

fn des_base(rec: &DesRecord) -> Value {
    json!({
        "activeKey": key_ref(&rec.active_key),
        "autoKeyRotationError": null,
        "encryptionType": "EncryptionAtRestWithCustomerKey",
        "id": des_id(rec),
        "identity": {
            "principalId": rec.principal_id,
            "tenantId": rec.tenant_id,
            "type": "SystemAssigned",
            "userAssignedIdentities": null,
        },
        "lastKeyRotationTimestamp": rec.last_key_rotation_timestamp,
        "location": rec.location,
        "name": rec.name,
        "previousKeys": rec.previous_keys.iter().map(key_ref).collect::<Vec<_>>(),
        "provisioningState": "Succeeded",
        "resourceGroup": rec.resource_group,
        "rotationToLatestKeyVersionEnabled": rec.rotation_to_latest_key_version_enabled,
        "tags": {},
        "type": "Microsoft.Compute/diskEncryptionSets",
    })
}

/// The resource id of a disk or snapshot.
pub fn volume_id(rec: &VolumeRecord) -> String {
    ResourceId::format(
        &rec.subscription_id,
        &rec.resource_group,
        rec.kind.resource_kind(),
        &rec.name,
    )
}

/// The tier az shows for a SKU.
pub fn sku_tier(sku: &str) -> &'static str {
    match sku {
        "Premium_LRS" => "Premium",
        "UltraSSD_LRS" => "Ultra",
        _ => "Standard",
    }
}

/// Who holds a disk, as `disk show` reports it.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// The VM's id (a VM, or the mount playing one).
    pub managed_by: String,
    /// `Attached`, or `Reserved` while the VM is deallocated.
    pub disk_state: &'static str,
}

/// `disk show` / `snapshot show`, with who holds it, if anyone.
pub fn volume(rec: &VolumeRecord, attachment: Option<&Attachment>) -> Value {
    let mut out = volume_base(rec, attachment);
    if super::disk_access::exported(rec).is_some() && rec.kind != VolumeKind::Image {
        out["diskState"] = json!("ActiveSAS");
    }
    super::recorded::show(&mut out, &rec.tags, &rec.settings);
    out
}

fn volume_base(rec: &VolumeRecord, attachment: Option<&Attachment>) -> Value {
    let managed_by = attachment.map(|a| a.managed_by.as_str());
    let mut out = json!({
        "creationData": {
            "createOption": rec.create_option,
            "sourceResourceId": rec.source_resource_id,
        },
        "diskSizeBytes": rec.size_bytes,
        "diskSizeGB": rec.size_bytes / GIB,
        "diskState": attachment.map_or("Unattached", |a| a.disk_state),
        "encryption": {
            "diskEncryptionSetId": rec.disk_encryption_set_id,
            "type": rec.encryption_type.as_str(),
        },
        "id": volume_id(rec),
        "location": rec.location,
        "managedBy": managed_by,
        "name": rec.name,
        "networkAccessPolicy": "AllowAll",
        "provisioningState": "Succeeded",
        "resourceGroup": rec.resource_group,
        "sku": { "name": rec.sku, "tier": sku_tier(&rec.sku) },
        "tags": {},
        "timeCreated": rec.created,
    });
    match rec.kind {
        VolumeKind::Disk => {
            out["type"] = json!("Microsoft.Compute/disks");
        }
        VolumeKind::Snapshot => {
            out["type"] = json!("Microsoft.Compute/snapshots");
            out["incremental"] = json!(false);
            out["completionPercent"] = json!(100);
        }
        VolumeKind::Image => return image(rec),
    }
    out
}

/// `image show`: az's managed-image shape; the OS disk carries the image's encryption.
pub fn image(rec: &VolumeRecord) -> Value {
    let source = rec.source_resource_id.as_deref().unwrap_or_default();
    let from_snapshot = source
        .to_ascii_lowercase()
        .contains("/microsoft.compute/snapshots/");
    json!({
        "extendedLocation": null,
        "hyperVGeneration": "V1",
        "id": volume_id(rec),
        "location": rec.location,
        "name": rec.name,
        "provisioningState": "Succeeded",
        "resourceGroup": rec.resource_group,
        "sourceVirtualMachine": null,
        "storageProfile": {
            "dataDisks": [],
            "osDisk": {
                "blobUri": null,
                "caching": "ReadWrite",
                "diskEncryptionSet": rec.disk_encryption_set_id.as_ref().map(|id| json!({ "id": id })),
                "diskSizeGb": rec.size_bytes / GIB,
                "managedDisk": if from_snapshot { Value::Null } else { json!({ "id": source }) },
                "osState": "Generalized",
                "osType": rec.os_type.as_deref().unwrap_or("Linux"),
                "snapshot": if from_snapshot { json!({ "id": source }) } else { Value::Null },
                "storageAccountType": rec.sku,
            },
            "zoneResilient": false,
        },
        "tags": {},
        "type": "Microsoft.Compute/images",
    })
}
