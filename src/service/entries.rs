//! Where a resource scoped to a resource group lives in the store, and how a reference finds it.
//!
//! Disks, snapshots, images, disk encryption sets and galleries are unique by name *within a
//! group*, as in the cloud. Each one is a directory entry (`disks/ENTRY`, or
//! `diskEncryptionSets/ENTRY.json`) whose record is authoritative for its name and group. The
//! entry is the plain name when no other entry holds it (every store written before groups were
//! scopes looks like that, so nothing is migrated), else `NAME@GROUP` (then `NAME@GROUP@2`…).
//! `@` is not allowed in names or groups, so an entry always starts with the name it holds.
//!
//! A *reference* is what callers inside ssefs pass around: `NAME` (which must then be unique in
//! the store) or `NAME@GROUP`, the form [`reference`] builds and the mount shows for names that
//! several groups use.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fsio;
pub use crate::ids::reference;
use crate::ids::{self, GROUP_SEPARATOR, Kind};

/// Splits a reference into its name and, when given, its group; both are validated, so
/// neither can be a path.
pub fn split(kind: Kind, reference: &str) -> Result<(String, Option<String>)> {
    let (name, group) = match reference.split_once(GROUP_SEPARATOR) {
        Some((n, g)) => (n, Some(g)),
        None => (reference, None),
    };
    ids::validate_name(kind, name)?;
    if let Some(g) = group {
        ids::validate_name(Kind::ResourceGroup, g)?;
    }
    Ok((name.to_string(), group.map(str::to_string)))
}

/// A resource named on a command line or in a control file: a name (in `group` when given),
/// a reference `NAME@GROUP`, or a resource id. Returns the reference to look up and the id
/// when one was given (its subscription is for the caller to check).
pub fn resolve(
    kind: Kind,
    name_or_id: &str,
    group: Option<&str>,
) -> Result<(String, Option<ids::ResourceId>)> {
    if !name_or_id.starts_with('/') && name_or_id.contains(GROUP_SEPARATOR) {
        let (name, g) = split(kind, name_or_id)?;
        let g = g.unwrap_or_default();
        if group.is_some_and(|want| !want.eq_ignore_ascii_case(&g)) {
            return Err(Error::not_found(kind.label(), name_or_id));
        }
        return Ok((reference(&name, &g), None));
    }
    let (name, id) = ids::name_or_id(name_or_id, kind)?;
    let reference = match (&id, group) {
        (Some(id), _) => reference(&name, &id.resource_group),
        (None, Some(g)) => reference(&name, g),
        (None, None) => name,
    };
    Ok((reference, id))
}

/// Entries of `dir` that may hold a resource named `name` (compared without case); `suffix`
/// is the file extension of file entries (`".json"`), or empty for directories.
fn candidates(dir: &Path, name: &str, suffix: &str) -> Result<Vec<String>> {
    Ok(fsio::list_entries(dir)?
        .into_iter()
        .filter(|entry| {
            let Some(stem) = entry.strip_suffix(suffix) else {
                return false;
            };
            let base = stem.split(GROUP_SEPARATOR).next().unwrap_or(stem);
            base.eq_ignore_ascii_case(name)
        })
        .collect())
}

/// Finds the resource `name` in `group` (any group when `None`): loads each candidate entry
/// with `load` and keeps those whose group (`group_of`) matches. More than one match without
/// a group is ambiguous and refused with a message that says how to choose.
pub fn locate<T>(
    kind: Kind,
    dir: &Path,
    suffix: &str,
    name: &str,
    group: Option<&str>,
    load: impl Fn(&Path) -> Result<T>,
    group_of: impl Fn(&T) -> &str,
) -> Result<(PathBuf, T)> {
    let mut found = Vec::new();
    for entry in candidates(dir, name, suffix)? {
        let path = dir.join(&entry);
        let rec = load(&path)?;
        if group.is_none_or(|g| g.eq_ignore_ascii_case(group_of(&rec))) {
            found.push((path, rec));
        }
    }
    match found.len() {
        0 => Err(Error::not_found(kind.label(), name)),
        1 => Ok(found.remove(0)),
        n => {
            let groups: Vec<&str> = found.iter().map(|(_, r)| group_of(r)).collect();
            Err(Error::invalid(format!(
                "there are {n} {}s named '{name}' (in resource groups {}): name the group with -g, or give the resource id",
                kind.label(),
                groups.join(", ")
            )))
        }
    }
}

/// The entry a new resource `name` of `group` gets in `dir`: the first of `NAME`,
/// `NAME@GROUP`, `NAME@GROUP@2`, … that no entry uses (compared without case).
pub fn new_entry(dir: &Path, name: &str, group: &str, suffix: &str) -> Result<String> {
    let taken: Vec<String> = candidates(dir, name, suffix)?
        .iter()
        .map(|e| e.to_ascii_lowercase())
        .collect();
    let free = |stem: &str| !taken.contains(&format!("{stem}{suffix}").to_ascii_lowercase());
    if free(name) {
        return Ok(format!("{name}{suffix}"));
    }
    let qualified = reference(name, &group.to_ascii_lowercase());
    if free(&qualified) {
        return Ok(format!("{qualified}{suffix}"));
    }
    (2..)
        .map(|n| format!("{qualified}{GROUP_SEPARATOR}{n}"))
        .find(|s| free(s))
        .map(|s| format!("{s}{suffix}"))
        .ok_or_else(|| Error::invalid("no free entry name"))
}

/// The names a listing shows for `(name, group)` pairs: the plain name when only one group
/// uses it, else `NAME@GROUP` for each.
pub fn display_names(items: &[(String, String)]) -> Vec<String> {
    items
        .iter()
        .map(|(name, group)| {
            let shared = items
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .count()
                > 1;
            if shared {
                reference(name, group)
            } else {
                name.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_the_name_first_then_qualified() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(new_entry(d, "Disk1", "RG1", "").unwrap(), "Disk1");
        std::fs::create_dir(d.join("Disk1")).unwrap();
        assert_eq!(new_entry(d, "disk1", "RG2", "").unwrap(), "disk1@rg2");
        std::fs::create_dir(d.join("disk1@rg2")).unwrap();
        assert_eq!(new_entry(d, "disk1", "rg2", "").unwrap(), "disk1@rg2@2");
        assert_eq!(new_entry(d, "disk10", "rg2", "").unwrap(), "disk10");
        assert_eq!(new_entry(d, "s", "g", ".json").unwrap(), "s.json");
    }

    #[test]
    fn references_split_and_refuse_paths() {
        assert_eq!(
            split(Kind::Disk, "d@rg").unwrap(),
            ("d".to_string(), Some("rg".to_string()))
        );
        assert_eq!(split(Kind::Disk, "d").unwrap(), ("d".to_string(), None));
        assert!(split(Kind::Disk, "d@../x").is_err());
        assert!(split(Kind::Disk, "../d").is_err());
    }

    #[test]
    fn shared_names_are_qualified_in_listings() {
        let items = vec![
            ("a".to_string(), "rg1".to_string()),
            ("A".to_string(), "rg2".to_string()),
            ("b".to_string(), "rg1".to_string()),
        ];
        assert_eq!(display_names(&items), vec!["a@rg1", "A@rg2", "b"]);
    }
}
