//! Where the vaults live (the setting `vault.dir`), and moving them when it changes.
//!
//! Keys apart from data: with `vault.dir` on another directory (another disk, another
//! filesystem, a removable or network volume), the store holds only ciphertext and wrapped
//! DEKs; the vaults' records, private keys, audit logs and the backup key live there. The
//! platform key stays in the store on purpose: it plays the storage service's own key, and
//! platform-key disks must keep working while a customer's vault directory is away.
//!
//! Changing the setting **moves** the vaults, crash-safely, with the setting as the commit
//! point:
//!
//! 1. the new directory must be new or empty (hidden entries and `lost+found` aside);
//! 2. everything in the old directory is copied into `NEW/.tmp-vault-move-PID/`, every file and
//!    directory fsynced, then renamed into `NEW` and `NEW` fsynced;
//! 3. the setting is written (atomically): from here on `NEW` is the vaults;
//! 4. the old copies are removed (and `STORE/vaults` itself, so the store keeps no key file).
//!
//! A crash before 3 leaves the old directory authoritative and a copy in `NEW` that the next
//! attempt refuses to overwrite (the message says it may be removed); a crash after 3 leaves
//! old copies that `ssefs check` reports. When the old directory cannot be reached there is
//! nothing to copy: the setting may then only name a directory that already holds vaults (a
//! copy restored elsewhere), and nothing is moved.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::fsio;

/// What a change of `vault.dir` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Moved {
    /// The setting names the directory the vaults are already in.
    Nothing,
    /// The vaults were copied to the new directory; `leftover` says what could not be removed
    /// from the old one (a warning for the caller).
    Copied { leftover: Option<String> },
    /// The old directory could not be reached; the new one already held vaults and is now used.
    Adopted,
}

/// Entries of a vault directory that are not ours: hidden ones (our temporaries, a
/// filesystem's own) and a filesystem root's `lost+found`.
fn foreign(name: &str) -> bool {
    name.starts_with('.') || name == "lost+found"
}

/// Whether `dir` is a directory that can be listed now; `Err` says why not.
pub fn reachable(dir: &Path) -> std::result::Result<(), String> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => fs::read_dir(dir).map(drop).map_err(|e| e.to_string()),
        Ok(_) => Err("it is not a directory".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// The error of an unreachable vault directory.
pub fn unreachable(dir: &Path, why: String) -> Error {
    Error::KeysUnreachable {
        dir: dir.to_path_buf(),
        why,
    }
}

/// Our entries of `dir` (a missing directory has none).
fn our_entries(dir: &Path) -> Result<Vec<String>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("list {}", dir.display()), e)),
    };
    let mut names = Vec::new();
    for entry in rd {
        let name = entry
            .ctx(|| format!("list {}", dir.display()))?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if !foreign(&name) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Whether `dir` holds at least one vault (a directory with a `vault.json`).
fn holds_vaults(dir: &Path) -> bool {
    our_entries(dir)
        .unwrap_or_default()
        .iter()
        .any(|n| dir.join(n).join("vault.json").is_file())
}

/// `path` without `.` components; `None` when it is relative or climbs with `..` (a setting
/// must say plainly where it points, so that "inside the store" can be decided lexically).
fn plain(path: &Path) -> Option<PathBuf> {
    if !path.is_absolute() {
        return None;
    }
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::RootDir => out.push("/"),
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Refuses a new vault directory that cannot work: relative or with `..`, the store or a place
/// inside it other than `STORE/vaults`, or nested in the old one (or the old one in it).
fn check_target(store: &Path, old: &Path, new: &Path) -> Result<()> {
    let Some(new_plain) = plain(new) else {
        return Err(Error::invalid(format!(
            "vault.dir must be an absolute path without '..', not '{}'",
            new.display()
        )));
    };
    // The store exists: its real path, so that a relative --store is compared rightly.
    let store_plain = fs::canonicalize(store)
        .ok()
        .and_then(|p| plain(&p))
        .unwrap_or_else(|| store.to_path_buf());
    let default = store_plain.join("vaults");
    if new_plain != default && new_plain.starts_with(&store_plain) {
        return Err(Error::invalid(format!(
            "vault.dir must be outside the store {} (unset it to keep the vaults in STORE/vaults)",
            store.display()
        )));
    }
    if store_plain.starts_with(&new_plain) {
        return Err(Error::invalid(format!(
            "vault.dir cannot be the store {} or a directory that contains it",
            store.display()
        )));
    }
    let old_plain = plain(old).unwrap_or_else(|| old.to_path_buf());
    if new_plain.starts_with(&old_plain) || old_plain.starts_with(&new_plain) {
        return Err(Error::invalid(format!(
            "vault.dir {} and the current vault directory {} are inside one another; choose a separate directory",
            new.display(),
            old.display()
        )));
    }
    Ok(())
}

/// Moves the vaults from `old` to `new` up to the commit point (steps 1 and 2 above), or
/// decides that there is nothing to move. `commit` writes the setting (step 3); then the old
/// copies are removed (step 4).
pub fn change(
    store: &Path,
    old: &Path,
    new: &Path,
    commit: impl FnOnce() -> Result<()>,
) -> Result<Moved> {
    if plain(old) == plain(new) {
        commit()?;
        return Ok(Moved::Nothing);
    }
    check_target(store, old, new)?;
    if let Err(why) = reachable(old) {
        if reachable(new).is_ok() && holds_vaults(new) {
            commit()?;
            return Ok(Moved::Adopted);
        }
        return Err(Error::NotAllowed(format!(
            "the current vault directory {} cannot be reached ({why}), so its vaults cannot be moved; bring it back first, or name a directory that already holds the vaults (a restored copy). Nothing changed",
            old.display()
        )));
    }
    if new.exists() {
        if let Err(why) = reachable(new) {
            return Err(Error::invalid(format!(
                "vault.dir {} cannot be used: {why}",
                new.display()
            )));
        }
        let present = our_entries(new)?;
        if let Some(first) = present.first() {
            return Err(Error::invalid(format!(
                "vault.dir {} is not empty (it holds '{first}'); name a new or empty directory (if it is a copy left by an interrupted move, it is not in use and may be removed). Nothing changed",
                new.display()
            )));
        }
        // Our own leftovers of an interrupted copy (hidden, so not counted above) go.
        fsio::remove_temporaries(new)?;
    } else {
        fsio::create_private_dir(new)?;
        if let Some(parent) = new.parent() {
            fsio::sync_dir(parent)?;
        }
    }
    let names = our_entries(old)?;
    let staging = new.join(format!(
        "{}vault-move-{}",
        fsio::TMP_PREFIX,
        std::process::id()
    ));
    fsio::create_private_dir(&staging)?;
    let copied = (|| {
        for name in &names {
            copy_tree(&old.join(name), &staging.join(name))?;
        }
        fsio::sync_dir(&staging)?;
        for name in &names {
            fs::rename(staging.join(name), new.join(name))
                .ctx(|| format!("rename into {}", new.display()))?;
        }
        fsio::sync_dir(new)?;
        fs::remove_dir(&staging).ctx(|| format!("remove {}", staging.display()))
    })();
    if let Err(e) = copied {
        let _ = fs::remove_dir_all(&staging);
        for name in &names {
            let _ = remove_any(&new.join(name));
        }
        return Err(e);
    }
    if let Err(e) = commit() {
        // The setting still names the old directory: the copy is not in use.
        for name in &names {
            let _ = remove_any(&new.join(name));
        }
        return Err(e);
    }
    let mut problems = Vec::new();
    for name in &names {
        if let Err(e) = remove_any(&old.join(name)) {
            problems.push(e.to_string());
        }
    }
    if let Err(e) = fsio::sync_dir(old) {
        problems.push(e.to_string());
    }
    // STORE/vaults itself goes, so that the store holds no trace of the vaults; a directory of
    // the user's (perhaps a mount point) stays, empty.
    if plain(old) == plain(&store.join("vaults")) {
        match fs::remove_dir(old) {
            Ok(()) => {
                let _ = fsio::sync_dir(store);
            }
            Err(e) => problems.push(format!("remove {}: {e}", old.display())),
        }
    }
    Ok(Moved::Copied {
        leftover: (!problems.is_empty()).then(|| {
            format!(
                "the vaults were moved to {}, but their old copies in {} could not all be removed ({}); remove them by hand",
                new.display(),
                old.display(),
                problems.join("; ")
            )
        }),
    })
}

fn remove_any(path: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(path).ctx(|| format!("stat {}", path.display()))?;
    if meta.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    }
    .ctx(|| format!("remove {}", path.display()))
}

/// Copies a regular file or a directory tree, keeping modes, fsyncing every file and directory.
/// Anything else (a symbolic link, a device) is refused: a vault directory holds none.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(from).ctx(|| format!("stat {}", from.display()))?;
    if meta.is_dir() {
        fsio::create_private_dir(to)?;
        for name in our_entries(from)? {
            copy_tree(&from.join(&name), &to.join(&name))?;
        }
        fsio::sync_dir(to)
    } else if meta.is_file() {
        let bytes =
            zeroize::Zeroizing::new(fs::read(from).ctx(|| format!("read {}", from.display()))?);
        let mut file = fsio::create_new_private(to)?;
        std::io::Write::write_all(&mut file, &bytes).ctx(|| format!("write {}", to.display()))?;
        file.set_permissions(fs::Permissions::from_mode(
            meta.permissions().mode() & 0o700,
        ))
        .ctx(|| format!("chmod {}", to.display()))?;
        file.sync_all().ctx(|| format!("fsync {}", to.display()))
    } else {
        Err(Error::invalid(format!(
            "{} is neither a file nor a directory; a vault directory holds only those. Nothing changed",
            from.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(dir: &Path, name: &str) {
        fsio::create_private_dir(&dir.join(name).join("keys/k")).unwrap();
        fs::write(dir.join(name).join("vault.json"), b"{}").unwrap();
        fs::write(dir.join(name).join("keys/k/v.pem"), b"secret").unwrap();
    }

    #[test]
    fn moves_then_commits_then_removes() {
        let t = tempfile::tempdir().unwrap();
        let store = t.path().join("store");
        let old = store.join("vaults");
        vault(&old, "kv1");
        let new = t.path().join("keys");
        let moved = change(&store, &old, &new, || Ok(())).unwrap();
        assert_eq!(moved, Moved::Copied { leftover: None });
        assert_eq!(fs::read(new.join("kv1/keys/k/v.pem")).unwrap(), b"secret");
        assert!(!old.exists(), "STORE/vaults is removed");
        let mode = fs::metadata(new.join("kv1/keys/k/v.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_failed_commit_leaves_the_old_directory_in_charge() {
        let t = tempfile::tempdir().unwrap();
        let store = t.path().join("store");
        let old = store.join("vaults");
        vault(&old, "kv1");
        let new = t.path().join("keys");
        let failed = change(&store, &old, &new, || Err(Error::invalid("disk full")));
        assert!(failed.is_err());
        assert!(old.join("kv1/vault.json").exists());
        assert!(our_entries(&new).unwrap().is_empty());
    }

    #[test]
    fn refuses_a_full_target_a_nested_one_and_the_store() {
        let t = tempfile::tempdir().unwrap();
        let store = t.path().join("store");
        let old = store.join("vaults");
        vault(&old, "kv1");
        let full = t.path().join("full");
        fs::create_dir_all(full.join("something")).unwrap();
        assert!(change(&store, &old, &full, || Ok(())).is_err());
        assert!(change(&store, &old, &store.join("disks"), || Ok(())).is_err());
        assert!(change(&store, &old, &old.join("x"), || Ok(())).is_err());
        assert!(change(&store, &old, t.path(), || Ok(())).is_err());
        assert!(change(&store, &old, Path::new("/a/../b"), || Ok(())).is_err());
        assert!(old.join("kv1/vault.json").exists());
    }

    #[test]
    fn an_unreachable_old_directory_is_only_replaced_by_one_holding_vaults() {
        let t = tempfile::tempdir().unwrap();
        let store = t.path().join("store");
        let gone = t.path().join("gone");
        let empty = t.path().join("empty");
        fs::create_dir(&empty).unwrap();
        assert!(change(&store, &gone, &empty, || Ok(())).is_err());
        let copy = t.path().join("copy");
        vault(&copy, "kv1");
        assert_eq!(
            change(&store, &gone, &copy, || Ok(())).unwrap(),
            Moved::Adopted
        );
    }
}
