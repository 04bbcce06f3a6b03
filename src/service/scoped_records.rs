//! Records kept one JSON file per resource in a directory, scoped to a resource group (VMs and
//! scale sets): found by reference (`NAME` or `NAME@GROUP`), name or resource id, written
//! atomically, listed with damaged files reported and skipped. The entry rules are those of
//! `entries.rs`.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Service, entries, group_matches};
use crate::error::{Error, Result};
use crate::format::Versioned;
use crate::fsio;
use crate::ids::Kind;

/// A record scoped to a resource group, stored as `DIR/ENTRY.json`.
pub(super) trait Scoped: Serialize + DeserializeOwned + Versioned {
    const KIND: Kind;
    fn name(&self) -> &str;
    fn group(&self) -> &str;
    fn subscription(&self) -> &str;
}

impl Scoped for crate::format::VmRecord {
    const KIND: Kind = Kind::VirtualMachine;
    fn name(&self) -> &str {
        &self.name
    }
    fn group(&self) -> &str {
        &self.resource_group
    }
    fn subscription(&self) -> &str {
        &self.subscription_id
    }
}

impl Scoped for crate::format::ScaleSetRecord {
    const KIND: Kind = Kind::ScaleSet;
    fn name(&self) -> &str {
        &self.name
    }
    fn group(&self) -> &str {
        &self.resource_group
    }
    fn subscription(&self) -> &str {
        &self.subscription_id
    }
}

const SUFFIX: &str = ".json";

pub(super) fn load_at<T: Scoped>(path: &Path) -> Result<T> {
    let rec: T = fsio::read_json(path)?;
    rec.check_version(path)?;
    Ok(rec)
}

/// The record `reference` names, with its path.
pub(super) fn locate<T: Scoped>(dir: &Path, reference: &str) -> Result<(PathBuf, T)> {
    let (name, group) = entries::split(T::KIND, reference)?;
    entries::locate(
        T::KIND,
        dir,
        SUFFIX,
        &name,
        group.as_deref(),
        load_at::<T>,
        |rec: &T| rec.group(),
    )
}

/// The record a command names: a name (in `group` when given), a reference or a resource id
/// (whose group and subscription must be the record's).
pub(super) fn load_by_ref<T: Scoped>(
    service: &Service,
    dir: &Path,
    name_or_id: &str,
    group: Option<&str>,
) -> Result<T> {
    if let Some(g) = group {
        service.read_group(g)?;
    }
    let missing = || Error::not_found(T::KIND.label(), name_or_id);
    let (reference, id) = entries::resolve(T::KIND, name_or_id, group)?;
    let rec = match locate::<T>(dir, &reference) {
        Ok((_, rec)) => rec,
        Err(Error::NotFound { .. }) => return Err(missing()),
        Err(e) => return Err(e),
    };
    let id_matches = id.is_none_or(|id| {
        id.resource_group.eq_ignore_ascii_case(rec.group())
            && id.subscription.eq_ignore_ascii_case(rec.subscription())
    });
    if !id_matches || !group_matches(group, rec.group()) {
        return Err(missing());
    }
    Ok(rec)
}

/// Writes a record over its entry, or under a new one.
pub(super) fn save<T: Scoped>(dir: &Path, rec: &T) -> Result<()> {
    let path = match locate::<T>(dir, &entries::reference(rec.name(), rec.group())) {
        Ok((path, _)) => path,
        Err(Error::NotFound { .. }) => {
            fsio::create_private_dir(dir)?;
            dir.join(entries::new_entry(dir, rec.name(), rec.group(), SUFFIX)?)
        }
        Err(e) => return Err(e),
    };
    fsio::write_json(&path, rec, 0o600)
}

/// Removes a record's file.
pub(super) fn remove<T: Scoped>(dir: &Path, rec: &T) -> Result<()> {
    let (path, _) = locate::<T>(dir, &entries::reference(rec.name(), rec.group()))?;
    std::fs::remove_file(&path).map_err(|e| Error::io(format!("remove {}", path.display()), e))?;
    fsio::sync_dir(dir)
}

/// Every readable record; a damaged one is reported and skipped.
pub(super) fn all<T: Scoped>(dir: &Path) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for entry in fsio::list_entries(dir)? {
        if !entry.ends_with(SUFFIX) {
            continue;
        }
        match load_at::<T>(&dir.join(&entry)) {
            Ok(rec) => out.push(rec),
            Err(e) => crate::log::warn(&format!("skipping {} '{entry}': {e}", T::KIND.label())),
        }
    }
    Ok(out)
}
