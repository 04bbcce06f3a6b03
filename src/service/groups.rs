//! Resource groups: `group create|show|list|exists|delete`, the group check every command makes,
//! and the upgrade that gives stores written before groups existed a record per group.
//!
//! A group lives in one subscription and its name is unique in the store (compared without
//! case; the cloud allows one name per subscription, ssefs one per store, which keeps the mount's
//! `NAME@GROUP` paths unambiguous). A command that names a group that does not exist fails like
//! az (`ResourceGroupNotFound`, exit 3) when the store is strict; otherwise a create makes the
//! group and warns that az would have failed, and a read warns and goes on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{Service, normalise_location};
use crate::clock;
use crate::error::{Error, IoContext, Result};
use crate::format::{GroupRecord, RECORD_VERSION, Versioned};
use crate::fsio;
use crate::ids::{self, Kind};

const GROUPS_DIR: &str = "resourceGroups";

/// `group create` arguments.
#[derive(Debug, Clone, Default)]
pub struct GroupArgs {
    pub name: String,
    pub location: String,
    pub tags: BTreeMap<String, String>,
}

/// The id az shows for a group.
pub fn group_id(rec: &GroupRecord) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}",
        rec.subscription_id, rec.name
    )
}

fn view(rec: &GroupRecord) -> Value {
    json!({
        "id": group_id(rec),
        "location": rec.location,
        "managedBy": null,
        "name": rec.name,
        "properties": { "provisioningState": "Succeeded" },
        "tags": if rec.tags.is_empty() { Value::Null } else { json!(rec.tags) },
        "type": "Microsoft.Resources/resourceGroups",
    })
}

/// Parses az's `--tags KEY=VALUE ...` (a bare `KEY` has an empty value; `""` clears).
pub fn parse_tags(items: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in items.iter().filter(|i| !i.is_empty()) {
        let (k, v) = item.split_once('=').unwrap_or((item, ""));
        if k.is_empty() || k.len() > 512 || v.len() > 256 {
            return Err(Error::invalid(format!(
                "--tags '{}' is not KEY=VALUE (a key of 1 to 512 characters, a value of at most 256)",
                item.chars().take(40).collect::<String>()
            )));
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

impl Service {
    fn groups_dir(&self) -> PathBuf {
        self.store.dir(GROUPS_DIR)
    }

    fn group_path(&self, name: &str) -> Result<PathBuf> {
        ids::validate_name(Kind::ResourceGroup, name)?;
        Ok(self
            .groups_dir()
            .join(format!("{}.json", name.to_ascii_lowercase())))
    }

    /// The group named `name` in any subscription, if it exists.
    fn find_group(&self, name: &str) -> Result<Option<GroupRecord>> {
        let path = self.group_path(name)?;
        if !path.exists() {
            return Ok(None);
        }
        let rec: GroupRecord = fsio::read_json(&path)?;
        rec.check_version(&path)?;
        Ok(Some(rec))
    }

    /// The group `name` of the current subscription, or az's `ResourceGroupNotFound`.
    pub(super) fn group(&self, name: &str) -> Result<GroupRecord> {
        match self.find_group(name)? {
            Some(g) if g.subscription_id == self.store.record().subscription_id => Ok(g),
            _ => Err(Error::GroupNotFound(name.to_string())),
        }
    }

    fn strict(&self) -> bool {
        self.store.config().strict()
    }

    /// The check a command that reads or changes resources of group `name` makes: the group
    /// must exist; when the store is not strict, a missing one only gives a warning.
    pub(super) fn read_group(&self, name: &str) -> Result<()> {
        match self.group(name) {
            Ok(_) => Ok(()),
            Err(Error::GroupNotFound(_)) if !self.strict() => {
                if self.find_group(name)?.is_none() {
                    self.warn(&format!(
                        "resource group '{name}' does not exist: az would fail with (ResourceGroupNotFound); `ssefs config set strict true` makes ssefs fail too"
                    ));
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The check a create makes: the group must exist in the current subscription; when the
    /// store is not strict a missing one is created (in `location`) with a warning.
    pub(super) fn use_group(&self, name: &str, location: &str) -> Result<GroupRecord> {
        let current = self.store.record().subscription_id.clone();
        self.use_group_in(name, location, &current)
    }

    /// Like [`Service::use_group`], in `subscription` (a move's destination).
    pub(super) fn use_group_in(
        &self,
        name: &str,
        location: &str,
        subscription: &str,
    ) -> Result<GroupRecord> {
        match self.find_group(name)? {
            Some(g) if g.subscription_id.eq_ignore_ascii_case(subscription) => Ok(g),
            Some(other) if !self.strict() => Err(Error::not_allowed(format!(
                "resource group '{}' is in subscription '{}', not in '{subscription}': ssefs keeps group names unique across the subscriptions of a store",
                other.name, other.subscription_id
            ))),
            None if !self.strict() => {
                let rec = self.write_new_group(name, location, subscription, BTreeMap::new())?;
                let warning = format!(
                    "resource group '{name}' did not exist and was created in '{}': az would fail with (ResourceGroupNotFound) Resource group '{name}' could not be found; run `group create` first, or `ssefs config set strict true` to fail like az",
                    rec.location
                );
                self.warn(&warning);
                self.auto_groups.lock().push((rec.clone(), warning));
                Ok(rec)
            }
            _ => Err(Error::GroupNotFound(name.to_string())),
        }
    }

    fn write_new_group(
        &self,
        name: &str,
        location: &str,
        subscription: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<GroupRecord> {
        let rec = GroupRecord {
            version: RECORD_VERSION,
            name: name.to_string(),
            subscription_id: subscription.to_string(),
            location: normalise_location(location),
            tags,
            created: clock::now_rfc3339(),
        };
        self.save_group(&rec)?;
        Ok(rec)
    }

    fn save_group(&self, rec: &GroupRecord) -> Result<()> {
        fsio::create_private_dir(&self.groups_dir())?;
        fsio::write_json(&self.group_path(&rec.name)?, rec, 0o600)?;
        fsio::sync_dir(&self.groups_dir())
    }

    /// `group create`: creates the group, or updates the tags of an existing one in the same
    /// location (az's PUT); another location is refused as az refuses it.
    pub fn group_create(&self, args: &GroupArgs) -> Result<Value> {
        let location = normalise_location(&args.location);
        if location.is_empty() {
            return Err(Error::invalid("--location is required"));
        }
        match self.find_group(&args.name)? {
            None => Ok(view(&self.write_new_group(
                &args.name,
                &location,
                &self.store.record().subscription_id.clone(),
                args.tags.clone(),
            )?)),
            Some(existing) => {
                if existing.subscription_id != self.store.record().subscription_id {
                    return Err(Error::not_allowed(format!(
                        "resource group '{}' already exists in subscription '{}': ssefs keeps group names unique across the subscriptions of a store",
                        existing.name, existing.subscription_id
                    )));
                }
                if existing.location != location {
                    return Err(Error::InvalidLocation(format!(
                        "Invalid resource group location '{location}'. The Resource group already exists in location '{}'.",
                        existing.location
                    )));
                }
                let mut rec = existing;
                rec.tags = args.tags.clone();
                self.save_group(&rec)?;
                Ok(view(&rec))
            }
        }
    }

    /// `group show`.
    pub fn group_show(&self, name: &str) -> Result<Value> {
        Ok(view(&self.group(name)?))
    }

    /// `group exists`: `true` or `false`.
    pub fn group_exists(&self, name: &str) -> Result<Value> {
        Ok(Value::Bool(self.group(name).is_ok()))
    }

    /// Every group of the current subscription.
    pub(super) fn all_groups(&self) -> Result<Vec<GroupRecord>> {
        let mut out = Vec::new();
        for entry in fsio::list_entries(&self.groups_dir())? {
            let path = self.groups_dir().join(&entry);
            let rec: GroupRecord = fsio::read_json(&path)?;
            rec.check_version(&path)?;
            if rec.subscription_id == self.store.record().subscription_id {
                out.push(rec);
            }
        }
        Ok(out)
    }

    /// `group list`.
    pub fn group_list(&self) -> Result<Value> {
        Ok(Value::Array(self.all_groups()?.iter().map(view).collect()))
    }

    /// Removes a group's record (its resources are gone; see `group_delete`).
    pub(super) fn remove_group_record(&self, rec: &GroupRecord) -> Result<()> {
        let path = self.group_path(&rec.name)?;
        std::fs::remove_file(&path).ctx(|| format!("remove {}", path.display()))?;
        fsio::sync_dir(&self.groups_dir())
    }

    /// Gives a store written before groups existed a record for every group its resources
    /// name, in the location of the first resource found. Built in a temporary directory and
    /// renamed into place, so a crash leaves no half-made set of groups.
    pub(super) fn upgrade_groups(&self) -> Result<()> {
        let dir = self.groups_dir();
        if dir.exists() {
            return Ok(());
        }
        let mut found: BTreeMap<String, GroupRecord> = BTreeMap::new();
        let mut note = |name: &str, subscription: &str, location: &str| {
            found
                .entry(name.to_ascii_lowercase())
                .or_insert_with(|| GroupRecord {
                    version: RECORD_VERSION,
                    name: name.to_string(),
                    subscription_id: subscription.to_string(),
                    location: location.to_string(),
                    tags: BTreeMap::new(),
                    created: clock::now_rfc3339(),
                });
        };
        for v in self.store.vaults().all_vaults()? {
            note(&v.resource_group, &v.subscription_id, &v.location);
        }
        for d in self.all_des()? {
            note(&d.resource_group, &d.subscription_id, &d.location);
        }
        for kind in [Kind::Disk, Kind::Snapshot, Kind::Image] {
            for v in self.all_volumes(kind)? {
                note(&v.resource_group, &v.subscription_id, &v.location);
            }
        }
        for (name, sub, loc) in self.gallery_groups()? {
            note(&name, &sub, &loc);
        }
        let tmp = self
            .store
            .root()
            .join(format!("{}{GROUPS_DIR}", fsio::TMP_PREFIX));
        fsio::create_private_dir(&tmp)?;
        for (file, rec) in &found {
            fsio::write_json(&tmp.join(format!("{file}.json")), rec, 0o600)?;
        }
        fsio::sync_dir(&tmp)?;
        rename_into_place(&tmp, &dir)
    }
}

fn rename_into_place(tmp: &Path, dir: &Path) -> Result<()> {
    std::fs::rename(tmp, dir).ctx(|| format!("rename {} to {}", tmp.display(), dir.display()))?;
    match dir.parent() {
        Some(parent) => fsio::sync_dir(parent),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_parse_like_az() {
        let t = parse_tags(&["a=1".into(), "b".into(), "c=x=y".into()]).unwrap();
        assert_eq!(t["a"], "1");
        assert_eq!(t["b"], "");
        assert_eq!(t["c"], "x=y");
        assert!(parse_tags(&["=v".into()]).is_err());
        assert!(parse_tags(&["".into()]).unwrap().is_empty());
    }
}
