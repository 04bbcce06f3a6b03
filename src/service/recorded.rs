//! What az records on a resource without it meaning anything here: `tags`, and settings such
//! as `publicNetworkAccess`, `zones` or `osType` (see `settings` in `docs/FORMAT.md`). They
//! are stored as given, shown at their place in the resource's JSON, and changed with
//! `--tags`, `--set PATH=VALUE` and `--remove PATH`. A path that ssefs gives a meaning to
//! (a size, a key, an encryption type) is not settable this way: its own option is.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Service;
use crate::error::{Error, Result};
use crate::ids::Kind;

/// Changes to a resource's tags and recorded settings, from the command line.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// `--tags`: replaces every tag (an empty map clears them).
    pub tags: Option<BTreeMap<String, String>>,
    /// `--set PATH=VALUE` (and create options recorded at PATH), in order.
    pub set: Vec<(String, Value)>,
    /// `--remove PATH`.
    pub remove: Vec<String>,
}

impl Recorded {
    /// Takes the value a `--set` gives `path` (case-insensitive; the last one wins), for a
    /// path the command gives a meaning to itself.
    pub fn take(&mut self, path: &str) -> Option<Value> {
        let mut found = None;
        self.set.retain(|(p, v)| {
            if p.eq_ignore_ascii_case(path) {
                found = Some(v.clone());
                false
            } else {
                true
            }
        });
        found
    }

    /// Whether there is nothing to change.
    pub fn is_empty(&self) -> bool {
        self.tags.is_none() && self.set.is_empty() && self.remove.is_empty()
    }
}

/// The resource whose record changes.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Vault(&'a str),
    Key { vault: &'a str, key: &'a str },
    Des(&'a str, Option<&'a str>),
    Volume(Kind, &'a str, Option<&'a str>),
    Vm(&'a str, Option<&'a str>),
    ScaleSet(&'a str, Option<&'a str>),
    Group(&'a str),
}

/// Recorded settings each type takes (dotted JSON paths, and everything below them).
const VAULT_PATHS: &[&str] = &[
    "properties.publicNetworkAccess",
    "properties.enabledForDiskEncryption",
    "properties.enabledForDeployment",
    "properties.enabledForTemplateDeployment",
    "properties.networkAcls",
];
const DISK_PATHS: &[&str] = &[
    "zones",
    "osType",
    "hyperVGeneration",
    "maxShares",
    "tier",
    "networkAccessPolicy",
    "publicNetworkAccess",
    "diskAccessId",
    "dataAccessAuthMode",
    "burstingEnabled",
    "diskIOPSReadWrite",
    "diskMBpsReadWrite",
    "diskIOPSReadOnly",
    "diskMBpsReadOnly",
    "supportedCapabilities",
    "supportsHibernation",
    "optimizedForFrequentAttach",
    "extendedLocation",
    "creationData.logicalSectorSize",
    "creationData.performancePlus",
    "securityProfile",
    "incremental",
    "availabilityPolicy",
];
const DES_PATHS: &[&str] = &["federatedClientId"];
const IMAGE_PATHS: &[&str] = &[
    "storageProfile.zoneResilient",
    "storageProfile.osDisk.caching",
    "extendedLocation",
];
const NONE: &[&str] = &[];

fn settable(allowed: &[&str], path: &str) -> bool {
    allowed.iter().any(|a| {
        path.eq_ignore_ascii_case(a)
            || (path.len() > a.len()
                && path[..a.len()].eq_ignore_ascii_case(a)
                && path.as_bytes()[a.len()] == b'.')
    })
}

/// The canonical spelling of `path` (az's `--set` is case-insensitive on known paths).
fn canonical(allowed: &[&str], path: &str) -> String {
    for a in allowed {
        if path.len() >= a.len() && path[..a.len()].eq_ignore_ascii_case(a) {
            return format!("{a}{}", &path[a.len()..]);
        }
    }
    path.to_string()
}

/// A tag value as az stores it: text (JSON strings unquoted, anything else as JSON text).
fn tag_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Applies `changes` to a record's tags and settings; `what` names the resource in messages.
pub fn apply(
    tags: &mut BTreeMap<String, String>,
    settings: &mut BTreeMap<String, Value>,
    allowed: &[&str],
    what: &str,
    changes: &Recorded,
) -> Result<()> {
    if let Some(t) = &changes.tags {
        *tags = t.clone();
    }
    for (path, value) in &changes.set {
        if path.eq_ignore_ascii_case("tags") {
            match value {
                Value::Object(map) => {
                    *tags = map.iter().map(|(k, v)| (k.clone(), tag_text(v))).collect();
                }
                Value::String(s) if s.is_empty() => tags.clear(),
                _ => {
                    return Err(Error::invalid(
                        "--set tags=VALUE takes a JSON object, e.g. tags='{\"env\":\"test\"}'",
                    ));
                }
            }
        } else if let Some(key) = path
            .strip_prefix("tags.")
            .or_else(|| path.strip_prefix("Tags."))
        {
            crate::service::parse_tags(&[format!("{key}={}", tag_text(value))])?;
            tags.insert(key.to_string(), tag_text(value));
        } else if settable(allowed, path) {
            settings.insert(canonical(allowed, path), value.clone());
        } else {
            return Err(not_settable(what, path));
        }
    }
    for path in &changes.remove {
        if path.eq_ignore_ascii_case("tags") {
            tags.clear();
        } else if let Some(key) = path.strip_prefix("tags.") {
            tags.remove(key);
        } else if settable(allowed, path) {
            let path = canonical(allowed, path);
            settings.retain(|k, _| k != &path && !k.starts_with(&format!("{path}.")));
        } else {
            return Err(not_settable(what, path));
        }
    }
    Ok(())
}

fn not_settable(what: &str, path: &str) -> Error {
    Error::not_supported(format!(
        "--set/--remove '{}' is not supported on {what}: ssefs changes only tags and recorded settings this way; use the command's own options",
        path.chars().take(60).collect::<String>()
    ))
}

/// Shows tags and recorded settings in a resource's JSON (settings at their paths).
pub fn show(out: &mut Value, tags: &BTreeMap<String, String>, settings: &BTreeMap<String, Value>) {
    if !tags.is_empty() {
        out["tags"] = serde_json::json!(tags);
    }
    for (path, value) in settings {
        let mut at = &mut *out;
        for part in path.split('.') {
            if !at.is_object() {
                *at = Value::Object(Default::default());
            }
            at = &mut at[part];
        }
        *at = value.clone();
    }
}

impl Service {
    /// Changes the tags and recorded settings of a resource.
    pub fn record(&self, target: Target, changes: &Recorded) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        match target {
            Target::Vault(name) => {
                let what = format!("key vault '{name}'");
                self.store.vaults().edit_vault(name, |r| {
                    apply(&mut r.tags, &mut r.settings, VAULT_PATHS, &what, changes)
                })?;
            }
            Target::Key { vault, key } => {
                let what = format!("key '{key}'");
                self.store.vaults().edit_key(vault, key, |r| {
                    apply(&mut r.tags, &mut r.settings, NONE, &what, changes)
                })?;
            }
            Target::Des(name, group) => {
                let mut rec = self.load_des_by_ref(name, group)?;
                let what = format!("disk encryption set '{}'", rec.name);
                apply(&mut rec.tags, &mut rec.settings, DES_PATHS, &what, changes)?;
                self.save_des(&rec)?;
            }
            Target::Volume(kind, name, group) => {
                let mut rec = self.load_volume_by_ref(kind, name, group)?;
                let what = format!("{} '{}'", kind.label(), rec.name);
                let allowed = if kind == Kind::Image {
                    IMAGE_PATHS
                } else {
                    DISK_PATHS
                };
                apply(&mut rec.tags, &mut rec.settings, allowed, &what, changes)?;
                self.save_volume(&rec)?;
            }
            Target::Vm(name, group) => {
                let mut rec = self.load_vm_by_ref(name, group)?;
                let what = format!("virtual machine '{}'", rec.name);
                apply(&mut rec.tags, &mut BTreeMap::new(), NONE, &what, changes)?;
                self.save_vm(&rec)?;
            }
            Target::ScaleSet(name, group) => {
                let mut rec = self.load_scale_set_by_ref(name, group)?;
                let what = format!("virtual machine scale set '{}'", rec.name);
                apply(&mut rec.tags, &mut BTreeMap::new(), NONE, &what, changes)?;
                self.save_scale_set(&rec)?;
            }
            Target::Group(name) => {
                // `group create` of an existing group sets its tags: the same path here.
                let shown = self.group_show(name)?;
                let mut tags: BTreeMap<String, String> = shown["tags"]
                    .as_object()
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), tag_text(v))).collect())
                    .unwrap_or_default();
                let what = format!("resource group '{name}'");
                apply(&mut tags, &mut BTreeMap::new(), NONE, &what, changes)?;
                self.group_create(&super::GroupArgs {
                    name: shown["name"].as_str().unwrap_or(name).to_string(),
                    location: shown["location"].as_str().unwrap_or_default().to_string(),
                    tags,
                })?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_and_remove_change_tags_and_allowed_paths_only() {
        let mut tags = BTreeMap::new();
        let mut settings = BTreeMap::new();
        let changes = Recorded {
            tags: Some(BTreeMap::from([("a".to_string(), "1".to_string())])),
            set: vec![
                ("tags.b".into(), json!("2")),
                ("networkaccesspolicy".into(), json!("DenyAll")),
            ],
            remove: vec!["tags.a".into()],
        };
        apply(&mut tags, &mut settings, DISK_PATHS, "disk 'd'", &changes).unwrap();
        assert_eq!(tags.len(), 1);
        assert_eq!(tags["b"], "2");
        assert_eq!(settings["networkAccessPolicy"], json!("DenyAll"));
        let bad = Recorded {
            set: vec![("diskSizeGB".into(), json!(5))],
            ..Default::default()
        };
        let e = apply(&mut tags, &mut settings, DISK_PATHS, "disk 'd'", &bad).unwrap_err();
        assert_eq!(e.code(), "NotSupported");
        let mut out = json!({"tags": {}, "sku": {"name": "x"}});
        show(&mut out, &tags, &settings);
        assert_eq!(out["networkAccessPolicy"], json!("DenyAll"));
        assert_eq!(out["tags"]["b"], json!("2"));
    }
}
