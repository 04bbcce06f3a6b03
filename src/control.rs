//! `/.control`, the management plane in the mount: a tree of small files; reading one shows a
//! state, writing one performs one action through the service (the same rules and messages as
//! the CLI). Each write is parsed completely into a [`Command`] before anything happens: it is
//! capped in size, must be one line of UTF-8, and nothing may be left over.
//!
//! ```text
//! /.control/README                                   this interface
//! /.control/last-error                               reason of the last refused write
//! /.control/snapshot                                 write "DISK SNAPSHOT [DES]"
//! /.control/keyvaults/VAULT/keys/KEY/enabled         read/write true|false (every version)
//! /.control/keyvaults/VAULT/keys/KEY/rotate          write any line: a new key version
//! /.control/keyvaults/VAULT/keys/KEY/kid             read the latest version's URL
//! /.control/disk-encryption-sets/DES/key-url         read the active key; write a key URL: rotate
//! /.control/disk-encryption-sets/DES/resources       read "ID KEY-URL" per disk and snapshot
//! /.control/disks/DISK/encryption                    read "TYPE [DES-ID]"; write a set: switch
//! ```

use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::format::EncryptionType;
use crate::ids::{self, KeyUrl, Kind};
use crate::service::{Service, VolumeArgs, VolumeUpdate};
use crate::vault::VersionSelector;

/// Largest write a control file accepts.
pub const MAX_WRITE: usize = 4096;

/// The interface, served as `/.control/README`.
pub const README: &str = include_str!("control_readme.txt");

/// A node of the `/.control` tree. Names are the resources' own (canonical) names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Node {
    Root,
    Readme,
    LastError,
    Snapshot,
    Vaults,
    Vault(String),
    Keys(String),
    Key(String, String),
    KeyEnabled(String, String),
    KeyRotate(String, String),
    KeyKid(String, String),
    Sets,
    Set(String),
    SetKeyUrl(String),
    SetResources(String),
    Disks,
    Disk(String),
    DiskEncryption(String),
}

/// One parsed write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    SetKeyEnabled {
        vault: String,
        key: String,
        enabled: bool,
    },
    RotateKey {
        vault: String,
        key: String,
    },
    RotateSet {
        set: String,
        key_url: String,
    },
    UseCustomerKey {
        disk: String,
        set: String,
    },
    UsePlatformKey {
        disk: String,
    },
    Snapshot {
        disk: String,
        snapshot: String,
        set: Option<String>,
    },
}

fn no_entry(name: &str) -> Error {
    Error::not_found("control file", name)
}

impl Node {
    /// Whether the node is a directory.
    pub fn is_dir(&self) -> bool {
        matches!(
            self,
            Node::Root
                | Node::Vaults
                | Node::Vault(_)
                | Node::Keys(_)
                | Node::Key(..)
                | Node::Sets
                | Node::Set(_)
                | Node::Disks
                | Node::Disk(_)
        )
    }

    /// Whether writing performs an action.
    pub fn writable(&self) -> bool {
        matches!(
            self,
            Node::Snapshot
                | Node::KeyEnabled(..)
                | Node::KeyRotate(..)
                | Node::SetKeyUrl(_)
                | Node::DiskEncryption(_)
        )
    }

    /// Whether reading shows something.
    pub fn readable(&self) -> bool {
        !self.is_dir() && !matches!(self, Node::Snapshot | Node::KeyRotate(..))
    }

    /// The child `name` of a directory node, if it exists now.
    pub fn child(&self, service: &Service, name: &str) -> Result<Node> {
        let node = match (self, name) {
            (Node::Root, "README") => Node::Readme,
            (Node::Root, "last-error") => Node::LastError,
            (Node::Root, "snapshot") => Node::Snapshot,
            (Node::Root, "keyvaults") => Node::Vaults,
            (Node::Root, "disk-encryption-sets") => Node::Sets,
            (Node::Root, "disks") => Node::Disks,
            (Node::Vaults, v) => {
                ids::validate_name(Kind::Vault, v).map_err(|_| no_entry(v))?;
                Node::Vault(service.vault_name(v)?)
            }
            (Node::Vault(v), "keys") => Node::Keys(v.clone()),
            (Node::Keys(v), k) => {
                ids::validate_name(Kind::Key, k).map_err(|_| no_entry(k))?;
                Node::Key(v.clone(), service.key_record(v, k)?.name)
            }
            (Node::Key(v, k), "enabled") => Node::KeyEnabled(v.clone(), k.clone()),
            (Node::Key(v, k), "rotate") => Node::KeyRotate(v.clone(), k.clone()),
            (Node::Key(v, k), "kid") => Node::KeyKid(v.clone(), k.clone()),
            (Node::Sets, d) => {
                crate::service::check_reference(Kind::DiskEncryptionSet, d)
                    .map_err(|_| no_entry(d))?;
                Node::Set(service.des_record(d)?.reference())
            }
            (Node::Set(d), "key-url") => Node::SetKeyUrl(d.clone()),
            (Node::Set(d), "resources") => Node::SetResources(d.clone()),
            (Node::Disks, d) => {
                crate::service::check_reference(Kind::Disk, d).map_err(|_| no_entry(d))?;
                Node::Disk(service.load_volume(Kind::Disk, d)?.reference())
            }
            (Node::Disk(d), "encryption") => Node::DiskEncryption(d.clone()),
            (_, other) => return Err(no_entry(other)),
        };
        Ok(node)
    }

    /// The entries of a directory node.
    pub fn children(&self, service: &Service) -> Result<Vec<(String, Node)>> {
        let fixed = |names: &[&str]| -> Result<Vec<(String, Node)>> {
            names
                .iter()
                .map(|n| Ok((n.to_string(), self.child(service, n)?)))
                .collect()
        };
        match self {
            Node::Root => fixed(&[
                "README",
                "last-error",
                "snapshot",
                "keyvaults",
                "disk-encryption-sets",
                "disks",
            ]),
            Node::Vaults => Ok(service
                .vault_names()?
                .into_iter()
                .map(|v| (v.clone(), Node::Vault(v)))
                .collect()),
            Node::Vault(_) => fixed(&["keys"]),
            Node::Keys(v) => Ok(service
                .key_names(v)?
                .into_iter()
                .map(|k| (k.clone(), Node::Key(v.clone(), k)))
                .collect()),
            Node::Key(..) => fixed(&["enabled", "rotate", "kid"]),
            Node::Sets => Ok(service
                .des_listing()?
                .into_iter()
                .map(|(shown, reference)| (shown, Node::Set(reference)))
                .collect()),
            Node::Set(_) => fixed(&["key-url", "resources"]),
            Node::Disks => Ok(service
                .volume_listing(Kind::Disk)?
                .into_iter()
                .map(|(shown, reference)| (shown, Node::Disk(reference)))
                .collect()),
            Node::Disk(_) => fixed(&["encryption"]),
            _ => Err(Error::io(
                "readdir",
                std::io::Error::from_raw_os_error(libc::ENOTDIR),
            )),
        }
    }

    /// The content of a file node.
    pub fn read(&self, service: &Service, last_error: &str) -> Result<String> {
        Ok(match self {
            Node::Readme => README.to_string(),
            Node::LastError if last_error.is_empty() => String::new(),
            Node::LastError => format!("{last_error}\n"),
            Node::KeyEnabled(v, k) => {
                let all = service.key_record(v, k)?.versions.iter().all(|x| x.enabled);
                format!("{all}\n")
            }
            Node::KeyKid(v, k) => format!("{}\n", service.key_latest_url(v, k)?),
            Node::SetKeyUrl(d) => format!("{}\n", service.des_record(d)?.active_key.key_url),
            Node::SetResources(d) => service
                .des_resources(d)?
                .into_iter()
                .map(|(id, kek)| format!("{id} {kek}\n"))
                .collect(),
            Node::DiskEncryption(d) => match service.disk_encryption(d)? {
                (t, Some(set)) => format!("{} {set}\n", t.as_str()),
                (t, None) => format!("{}\n", t.as_str()),
            },
            _ => String::new(),
        })
    }
}

/// Parses one write to `node` into a command; nothing is changed.
pub fn parse(node: &Node, data: &[u8]) -> Result<Command> {
    if !node.writable() {
        return Err(Error::io(
            "this control file is read-only",
            std::io::Error::from_raw_os_error(libc::EACCES),
        ));
    }
    if data.len() > MAX_WRITE {
        return Err(Error::invalid(format!(
            "a control write is at most {MAX_WRITE} bytes, not {}",
            data.len()
        )));
    }
    let text = std::str::from_utf8(data)
        .map_err(|_| Error::invalid("a control write must be UTF-8 text"))?;
    let line = text.strip_suffix('\n').unwrap_or(text);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.chars().any(|c| c.is_control() && c != '\t') {
        return Err(Error::invalid(
            "a control write is one line of text (no newlines or control characters inside)",
        ));
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    let one = |what: &str| -> Result<&str> {
        match words.as_slice() {
            [w] => Ok(*w),
            [] => Err(Error::invalid(format!("expected {what}, got nothing"))),
            _ => Err(Error::invalid(format!(
                "expected only {what}, got {} words",
                words.len()
            ))),
        }
    };
    match node {
        Node::KeyEnabled(vault, key) => {
            let enabled = match one("true or false")? {
                w if w.eq_ignore_ascii_case("true") => true,
                w if w.eq_ignore_ascii_case("false") => false,
                _ => return Err(Error::invalid("write true or false")),
            };
            Ok(Command::SetKeyEnabled {
                vault: vault.clone(),
                key: key.clone(),
                enabled,
            })
        }
        Node::KeyRotate(vault, key) => Ok(Command::RotateKey {
            vault: vault.clone(),
            key: key.clone(),
        }),
        Node::SetKeyUrl(set) => {
            let url = one("a key URL")?;
            KeyUrl::parse(url)?;
            Ok(Command::RotateSet {
                set: set.clone(),
                key_url: url.to_string(),
            })
        }
        Node::DiskEncryption(disk) => {
            let target = one("a disk encryption set name or id")?;
            if target.eq_ignore_ascii_case(EncryptionType::EncryptionAtRestWithPlatformKey.as_str())
            {
                return Ok(Command::UsePlatformKey { disk: disk.clone() });
            }
            ids::name_or_id(target, Kind::DiskEncryptionSet)?;
            Ok(Command::UseCustomerKey {
                disk: disk.clone(),
                set: target.to_string(),
            })
        }
        Node::Snapshot => {
            let (disk, snapshot, set) = match words.as_slice() {
                [d, s] => (*d, *s, None),
                [d, s, set] => (*d, *s, Some(*set)),
                _ => return Err(Error::invalid("write DISK SNAPSHOT or DISK SNAPSHOT DES")),
            };
            ids::validate_name(Kind::Disk, disk)?;
            ids::validate_name(Kind::Snapshot, snapshot)?;
            if let Some(set) = set {
                ids::name_or_id(set, Kind::DiskEncryptionSet)?;
            }
            Ok(Command::Snapshot {
                disk: disk.to_string(),
                snapshot: snapshot.to_string(),
                set: set.map(str::to_string),
            })
        }
        _ => Err(Error::invalid("this control file takes no writes")),
    }
}

/// Applies a command through the service, then applies key changes to open disks. A snapshot
/// copy and a re-encryption run without holding the service lock, so the rest of the mount is
/// served meanwhile; everything else holds it.
pub fn apply(command: Command, shared: &Mutex<Service>) -> Result<()> {
    let result = apply_command(command, shared);
    shared.lock().refresh_open_volumes();
    result
}

fn apply_command(command: Command, shared: &Mutex<Service>) -> Result<()> {
    let service = || shared.lock();
    match command {
        Command::SetKeyEnabled {
            vault,
            key,
            enabled,
        } => service()
            .key_set_enabled(&vault, &key, VersionSelector::All, enabled)
            .map(drop),
        Command::RotateKey { vault, key } => service().key_rotate(&vault, &key).map(drop),
        Command::RotateSet { set, key_url } => service()
            .des_update(&set, None, Some(&key_url), None, None)
            .map(drop),
        Command::UseCustomerKey { disk, set } => {
            let update = VolumeUpdate {
                disk_encryption_set: Some(set),
                ..Default::default()
            };
            crate::service::disk_update_shared(shared, &disk, None, &update).map(drop)
        }
        Command::UsePlatformKey { disk } => {
            let update = VolumeUpdate {
                encryption_type: Some(
                    EncryptionType::EncryptionAtRestWithPlatformKey
                        .as_str()
                        .into(),
                ),
                ..Default::default()
            };
            service().disk_update(&disk, None, &update).map(drop)
        }
        Command::Snapshot {
            disk,
            snapshot,
            set,
        } => {
            let source = service().load_volume(Kind::Disk, &disk)?;
            let args = VolumeArgs {
                name: snapshot,
                resource_group: source.resource_group.clone(),
                source: Some(crate::service::volume_id(&source)),
                disk_encryption_set: set,
                ..Default::default()
            };
            crate::service::volume_create_shared(shared, Kind::Snapshot, &args).map(drop)
        }
    }
}

/// The errno a refused control write returns: as for any error, except that a missing vault
/// permission is a rule of the domain here (EPERM), not an I/O denial (EACCES).
pub fn errno(e: &Error) -> i32 {
    match e {
        Error::AccessDenied(_) => libc::EPERM,
        other => other.errno(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_enabled() -> Node {
        Node::KeyEnabled("kv".into(), "k".into())
    }

    #[test]
    fn parses_each_file_and_rejects_leftovers() {
        assert_eq!(
            parse(&key_enabled(), b"false\n").unwrap(),
            Command::SetKeyEnabled {
                vault: "kv".into(),
                key: "k".into(),
                enabled: false
            }
        );
        assert!(parse(&key_enabled(), b"false true").is_err());
        assert!(parse(&key_enabled(), b"maybe").is_err());
        assert!(parse(&key_enabled(), b"").is_err());
        assert!(parse(&key_enabled(), b"true\nfalse\n").is_err());
        assert_eq!(
            parse(&Node::Snapshot, b"d1 s1\n").unwrap(),
            Command::Snapshot {
                disk: "d1".into(),
                snapshot: "s1".into(),
                set: None
            }
        );
        assert!(parse(&Node::Snapshot, b"d1").is_err());
        assert!(parse(&Node::Snapshot, b"d1 s1 des extra").is_err());
        assert!(parse(&Node::Snapshot, b"../x s1").is_err());
        assert!(parse(&Node::SetKeyUrl("d".into()), b"not-a-url").is_err());
        assert!(parse(&Node::KeyKid("kv".into(), "k".into()), b"x").is_err());
        assert!(parse(&Node::KeyRotate("kv".into(), "k".into()), b"").is_ok());
    }

    #[test]
    fn hostile_bytes_are_refused_with_einval() {
        let big = vec![b'a'; MAX_WRITE + 1];
        for data in [&big[..], b"\xff\xfe", b"tr\0ue", b"true\x1b[2J"] {
            let e = parse(&key_enabled(), data).unwrap_err();
            assert_eq!(errno(&e), libc::EINVAL, "{data:?}");
        }
    }

    #[test]
    fn readme_names_every_file() {
        for name in [
            "last-error",
            "snapshot",
            "enabled",
            "rotate",
            "kid",
            "key-url",
            "resources",
            "encryption",
        ] {
            assert!(README.contains(name), "{name}");
        }
    }
}
