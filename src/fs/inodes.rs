//! The inode table and the attributes the mount shows: fixed directories, one stable inode per
//! disk, snapshot and control node for the life of the mount, lookups and directory listings.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::time::Duration;

use fuser::{FileAttr, FileType, INodeNo};

use super::StoreFs;
use crate::control;
use crate::error::{Error, Result};
use crate::ids::Kind;

pub(super) const ROOT: u64 = 1;
pub(super) const DISKS: u64 = 2;
pub(super) const SNAPSHOTS: u64 = 3;
pub(super) const CONTROL: u64 = 4;
pub(super) const VMS: u64 = 5;
pub(super) const FIRST_DYNAMIC: u64 = 16;
/// The fixed directories never change.
const DIR_TTL: Duration = Duration::from_secs(60);
/// Disks and snapshots come, go and grow through the CLI while mounted: the kernel must ask
/// every time (a lookup reads one small record), so changes show at once.
const FILE_TTL: Duration = Duration::ZERO;

/// What a dynamic inode is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Object {
    /// A disk or snapshot file, by reference (`NAME@GROUP`, as its record spells it).
    Volume(Kind, String),
    /// A node of `/.control` below its root.
    Control(control::Node),
    /// `vms/VM`: a running VM's disks, by the VM's reference.
    VmDir(String),
}

/// Stable inode numbers for disks, snapshots and control nodes, for the life of the mount (a
/// ReadWrite mount renews a resized volume's: see [`Inodes::assign_volume`]).
pub(super) struct Inodes {
    pub(super) by_object: HashMap<Object, u64>,
    pub(super) by_ino: HashMap<u64, Object>,
    pub(super) next: u64,
    /// The size last shown for each volume inode (see [`Inodes::assign_volume`]).
    pub(super) sizes: HashMap<u64, u64>,
}

impl Inodes {
    pub(super) fn assign(&mut self, object: Object) -> u64 {
        if let Some(ino) = self.by_object.get(&object) {
            return *ino;
        }
        let ino = self.next;
        self.next += 1;
        self.by_object.insert(object.clone(), ino);
        self.by_ino.insert(ino, object);
        ino
    }

    /// The inode of a disk or snapshot of `size` bytes. With the writeback cache the kernel
    /// trusts its own idea of a regular file's size and ignores ours, so a disk grown with
    /// `disk update --size-gb` would keep its old size in the mount: `renew_on_resize` gives
    /// the volume a new inode number when its size changed, and the next lookup (file entries
    /// are revalidated at every access) makes the kernel drop the old inode for a new one.
    /// The old number keeps resolving to the volume, and the revocation hook invalidates every
    /// number a volume has had. (Resizing is refused while the disk is open; a write past the
    /// end renews while its writer may still hold the old inode: until that writer closes,
    /// it and a new opener see the disk through two page caches.)
    pub(super) fn assign_volume(
        &mut self,
        object: Object,
        size: u64,
        renew_on_resize: bool,
    ) -> u64 {
        let mut ino = self.assign(object.clone());
        if renew_on_resize && self.sizes.get(&ino).is_some_and(|&shown| shown != size) {
            ino = self.next;
            self.next += 1;
            self.by_object.insert(object.clone(), ino);
            self.by_ino.insert(ino, object);
        }
        self.sizes.insert(ino, size);
        ino
    }

    /// Makes the next [`Inodes::assign_volume`] of this inode's volume renew it, as after a
    /// resize (the kernel's size for it is wrong).
    pub(super) fn forget_size(&mut self, ino: u64) {
        if let Some(size) = self.sizes.get_mut(&ino) {
            *size = u64::MAX;
        }
    }
}

pub(super) fn ttl(attr: &FileAttr) -> Duration {
    // Only the fixed directories last; a VM's directory goes when it stops.
    if attr.kind == FileType::Directory && attr.ino.0 < FIRST_DYNAMIC {
        DIR_TTL
    } else {
        FILE_TTL
    }
}

impl StoreFs {
    pub(super) fn attr(&self, ino: u64, kind: FileType, size: u64, perm: u16) -> FileAttr {
        FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: self.started,
            mtime: self.started,
            ctime: self.started,
            crtime: self.started,
            kind,
            perm,
            nlink: if kind == FileType::Directory { 2 } else { 1 },
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    pub(super) fn dir_attr(&self, ino: u64) -> FileAttr {
        self.attr(ino, FileType::Directory, 0, 0o700)
    }

    pub(super) fn kind_of_dir(ino: u64) -> Option<Kind> {
        match ino {
            DISKS => Some(Kind::Disk),
            SNAPSHOTS => Some(Kind::Snapshot),
            _ => None,
        }
    }

    /// The attributes of a disk or snapshot file, read from its record (found by its shown
    /// name `NAME` or `NAME@GROUP`, or by reference).
    pub(super) fn volume_attr(&self, kind: Kind, name: &str) -> Result<FileAttr> {
        let rec = self.service.lock().load_volume(kind, name)?;
        // Renewed also while a handle of the old inode is open (after a write past the end the
        // writer still holds it; FUSE's release comes after close returns, so waiting for it
        // would leave the next `stat` wrong): revocation reaches every inode of the volume.
        let ino = self.inodes.lock().assign_volume(
            Object::Volume(kind, rec.reference()),
            rec.size_bytes,
            self.caching == super::Caching::ReadWrite,
        );
        let perm = if kind == Kind::Snapshot { 0o400 } else { 0o600 };
        Ok(self.attr(ino, FileType::RegularFile, rec.size_bytes, perm))
    }

    pub(super) fn object_of(&self, ino: u64) -> Option<Object> {
        if ino == CONTROL {
            return Some(Object::Control(control::Node::Root));
        }
        self.inodes.lock().by_ino.get(&ino).cloned()
    }

    /// What an inode stands for, for log lines.
    pub(super) fn name_of(&self, ino: u64) -> String {
        match self.object_of(ino) {
            Some(Object::Volume(_, name)) => name,
            Some(Object::Control(node)) => format!(".control {node:?}"),
            Some(Object::VmDir(vm)) => format!("vms/{vm}"),
            None => format!("inode {ino}"),
        }
    }

    pub(super) fn getattr_ino(&self, ino: u64) -> Result<FileAttr> {
        match ino {
            ROOT | DISKS | SNAPSHOTS | CONTROL | VMS => Ok(self.dir_attr(ino)),
            _ => match self.object_of(ino) {
                Some(Object::Volume(kind, name)) => self.volume_attr(kind, &name),
                Some(Object::Control(node)) => self.control_attr(node),
                Some(Object::VmDir(vm)) => {
                    if self.service.lock().running_vm_disks(&vm)?.is_none() {
                        return Err(Error::not_found("virtual machine", vm));
                    }
                    Ok(self.dir_attr(ino))
                }
                None => Err(Error::not_found("inode", ino.to_string())),
            },
        }
    }

    pub(super) fn lookup_name(&self, parent: u64, name: &OsStr) -> Result<FileAttr> {
        let name = name
            .to_str()
            .ok_or_else(|| Error::not_found("entry", name.to_string_lossy()))?;
        match (parent, name) {
            (ROOT, "disks") => Ok(self.dir_attr(DISKS)),
            (ROOT, "snapshots") => Ok(self.dir_attr(SNAPSHOTS)),
            (ROOT, ".control") => Ok(self.dir_attr(CONTROL)),
            (ROOT, "vms") => Ok(self.dir_attr(VMS)),
            (VMS, _) => {
                let listing = self.service.lock().running_vm_listing()?;
                let (_, reference) = listing
                    .into_iter()
                    .find(|(shown, _)| shown.eq_ignore_ascii_case(name))
                    .ok_or_else(|| Error::not_found("virtual machine", name))?;
                let ino = self.inodes.lock().assign(Object::VmDir(reference));
                Ok(self.dir_attr(ino))
            }
            (DISKS | SNAPSHOTS, _) => {
                let kind = Self::kind_of_dir(parent).unwrap_or(Kind::Disk);
                // An invalid name cannot exist: answer ENOENT rather than EINVAL; so does a
                // name that several groups hold (they show as NAME@GROUP).
                crate::service::check_reference(kind, name)
                    .map_err(|_| Error::not_found(kind.label(), name))?;
                self.volume_attr(kind, name).map_err(|e| match e {
                    Error::InvalidArgument(_) => Error::not_found(kind.label(), name),
                    e => e,
                })
            }
            _ => match self.object_of(parent) {
                Some(Object::Control(node)) => {
                    let child = node.child(&self.service.lock(), name)?;
                    self.control_attr(child)
                }
                Some(Object::VmDir(vm)) => {
                    let disks = self
                        .service
                        .lock()
                        .running_vm_disks(&vm)?
                        .unwrap_or_default();
                    let (_, disk) = disks
                        .into_iter()
                        .find(|(slot, _)| slot == name)
                        .ok_or_else(|| Error::not_found("entry", name))?;
                    // The same inode as disks/NAME: the same file, not a copy.
                    self.volume_attr(Kind::Disk, &disk)
                }
                _ => Err(Error::not_found("entry", name)),
            },
        }
    }

    pub(super) fn entries(&self, ino: u64) -> Result<Vec<(u64, FileType, String)>> {
        let mut out = vec![
            (ino, FileType::Directory, ".".to_string()),
            (ROOT, FileType::Directory, "..".to_string()),
        ];
        match ino {
            ROOT => {
                out.push((DISKS, FileType::Directory, "disks".into()));
                out.push((SNAPSHOTS, FileType::Directory, "snapshots".into()));
                out.push((CONTROL, FileType::Directory, ".control".into()));
                out.push((VMS, FileType::Directory, "vms".into()));
            }
            VMS => {
                let listing = self.service.lock().running_vm_listing()?;
                let mut inodes = self.inodes.lock();
                for (shown, reference) in listing {
                    let ino = inodes.assign(Object::VmDir(reference));
                    out.push((ino, FileType::Directory, shown));
                }
            }
            DISKS | SNAPSHOTS => {
                let kind = Self::kind_of_dir(ino).unwrap_or(Kind::Disk);
                let listing = self.service.lock().volume_listing(kind)?;
                let mut inodes = self.inodes.lock();
                for (shown, reference) in listing {
                    let ino = inodes.assign(Object::Volume(kind, reference));
                    out.push((ino, FileType::RegularFile, shown));
                }
            }
            _ => match self.object_of(ino) {
                Some(Object::VmDir(vm)) => {
                    let disks = self
                        .service
                        .lock()
                        .running_vm_disks(&vm)?
                        .unwrap_or_default();
                    let mut inodes = self.inodes.lock();
                    for (slot, disk) in disks {
                        let ino = inodes.assign(Object::Volume(Kind::Disk, disk));
                        out.push((ino, FileType::RegularFile, slot));
                    }
                }
                Some(Object::Control(node)) => {
                    let children = node.children(&self.service.lock())?;
                    let mut inodes = self.inodes.lock();
                    for (name, child) in children {
                        let kind = if child.is_dir() {
                            FileType::Directory
                        } else {
                            FileType::RegularFile
                        };
                        out.push((inodes.assign(Object::Control(child)), kind, name));
                    }
                }
                _ => {
                    return Err(Error::io(
                        "readdir",
                        std::io::Error::from_raw_os_error(libc::ENOTDIR),
                    ));
                }
            },
        }
        Ok(out)
    }
}
