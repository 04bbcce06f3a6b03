//! File-system primitives the store is built on: atomic replacement of small files, JSON
//! records, sparse-aware copies and the store lock.
//!
//! Every metadata change goes through [`write_atomic`]: write a temporary file in the same
//! directory, fsync it, rename it over the target, fsync the directory. A crash leaves either
//! the old or the new file, never a torn one; stray temporaries (`.tmp-*`) are ignored by
//! readers and removed by the next writer.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, IoContext, Result};

/// Prefix of temporary files and directories; never a valid resource name.
pub const TMP_PREFIX: &str = ".tmp-";

/// Replaces `path` with `bytes` atomically and durably; the file gets `mode`.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::invalid(format!("{} has no parent directory", path.display())))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!("{TMP_PREFIX}{file_name}-{}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)
            .ctx(|| format!("create {}", tmp.display()))?;
        // The mode given to open() is filtered by the umask; make it exact.
        f.set_permissions(fs::Permissions::from_mode(mode))
            .ctx(|| format!("chmod {}", tmp.display()))?;
        f.write_all(bytes)
            .ctx(|| format!("write {}", tmp.display()))?;
        f.sync_all().ctx(|| format!("fsync {}", tmp.display()))?;
        fs::rename(&tmp, path).ctx(|| format!("rename {} to {}", tmp.display(), path.display()))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Serialises `value` as pretty JSON and writes it with [`write_atomic`].
pub fn write_json<T: Serialize>(path: &Path, value: &T, mode: u32) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| Error::corrupt(path, format!("cannot serialise: {e}")))?;
    bytes.push(b'\n');
    write_atomic(path, &bytes, mode)
}

/// Reads a JSON record; a damaged or unknown file is an [`Error::Corrupt`] naming it.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = fs::read(path).ctx(|| format!("read {}", path.display()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::corrupt(path, format!("not a valid record: {e}")))
}

/// Fsyncs a directory so that a rename or create in it is durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .ctx(|| format!("fsync directory {}", dir.display()))
}

/// Creates a directory (and parents) with mode 0700.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .ctx(|| format!("create directory {}", dir.display()))
}

/// Creates the new file `path` (it must not exist) with mode 0600, for writing.
pub fn create_new_private(path: &Path) -> Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .ctx(|| format!("create {}", path.display()))
}

/// Copies `src` to a new file `dst` without reading holes: a reflink when the filesystem can
/// share extents (btrfs, xfs), else `copy_file_range` over the data extents only, so that a copy
/// of a mostly empty disk is small and quick. `dst` ends with `src`'s length and is fsynced.
pub fn sparse_copy(src: &Path, dst: &Path, what: &str) -> Result<()> {
    let input = File::open(src).ctx(|| format!("open {}", src.display()))?;
    let output = create_new_private(dst)?;
    let len = input
        .metadata()
        .ctx(|| format!("stat {}", src.display()))?
        .len();
    // SAFETY: FICLONE takes the source descriptor as its argument; both fds are open.
    let cloned = unsafe { libc::ioctl(output.as_raw_fd(), libc::FICLONE, input.as_raw_fd()) } == 0;
    if !cloned {
        let progress = crate::progress::Progress::new(what, len);
        copy_data_extents(&input, &output, len, &progress)
            .ctx(|| format!("copy {} to {}", src.display(), dst.display()))?;
        // The rest is holes: done.
        progress.update(len);
    }
    output
        .set_len(len)
        .ctx(|| format!("set length of {}", dst.display()))?;
    output.sync_all().ctx(|| format!("fsync {}", dst.display()))
}

/// Walks the data extents of `input` with SEEK_DATA/SEEK_HOLE and copies each one.
fn copy_data_extents(
    input: &File,
    output: &File,
    len: u64,
    progress: &crate::progress::Progress,
) -> std::io::Result<()> {
    let fd_in = input.as_raw_fd();
    let fd_out = output.as_raw_fd();
    let mut pos: i64 = 0;
    while (pos as u64) < len {
        // SAFETY: plain lseek on an open descriptor.
        let data = unsafe { libc::lseek(fd_in, pos, libc::SEEK_DATA) };
        if data < 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::ENXIO) {
                break; // no data after pos: the rest is a hole
            }
            return Err(err);
        }
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(fd_in, data, libc::SEEK_HOLE) };
        if hole < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut off_in = data;
        let mut off_out = data;
        while off_in < hole {
            // At most 64 MiB a call, so that progress moves.
            let want = ((hole - off_in) as usize).min(64 << 20);
            // SAFETY: offsets are valid pointers to locals; descriptors are open.
            let n =
                unsafe { libc::copy_file_range(fd_in, &mut off_in, fd_out, &mut off_out, want, 0) };
            if n < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if n == 0 {
                break;
            }
            progress.update(off_in as u64);
        }
        pos = hole;
    }
    Ok(())
}

/// Finds the entry of `parent` whose name equals `name` case-insensitively (resource names are
/// unique regardless of case). Temporaries are never matched.
pub fn find_entry(parent: &Path, name: &str) -> Result<Option<std::path::PathBuf>> {
    let exact = parent.join(name);
    if exact.exists() {
        return Ok(Some(exact));
    }
    for entry in list_entries(parent)? {
        if entry.eq_ignore_ascii_case(name) {
            return Ok(Some(parent.join(entry)));
        }
    }
    Ok(None)
}

/// Names in `parent`, sorted, without temporaries or other hidden entries; a missing directory
/// is empty.
pub fn list_entries(parent: &Path) -> Result<Vec<String>> {
    let rd = match fs::read_dir(parent) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("list {}", parent.display()), e)),
    };
    let mut names = Vec::new();
    for entry in rd {
        let entry = entry.ctx(|| format!("list {}", parent.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Removes leftovers of interrupted writes (`.tmp-*` files and directories) in `dir` and in
/// every directory below it: a temporary may hold a private key (`vaults/V/keys/K/.tmp-*`), so
/// none may outlive the next open of the store. Symbolic links are not followed.
pub fn remove_temporaries(dir: &Path) -> Result<()> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(_) => return Ok(()),
    };
    for entry in rd.flatten() {
        let path = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
            let removed = if is_dir {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            removed.ctx(|| format!("remove leftover {}", path.display()))?;
        } else if is_dir {
            remove_temporaries(&path)?;
        }
    }
    Ok(())
}

/// Appends one line to a log file with a single write(2) (O_APPEND keeps lines whole).
pub fn append_line(path: &Path, line: &str) -> Result<()> {
    let mut f = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .ctx(|| format!("open {}", path.display()))?;
    let mut buf = String::with_capacity(line.len() + 1);
    buf.push_str(line);
    buf.push('\n');
    f.write_all(buf.as_bytes())
        .ctx(|| format!("append to {}", path.display()))
}

/// An exclusive advisory lock on a file, released when dropped (or when the process dies, so
/// a crashed command never leaves the store locked).
pub struct FileLock {
    _file: File,
}

impl FileLock {
    /// Takes the lock, waiting for other holders.
    pub fn exclusive(path: &Path) -> Result<Self> {
        Self::take(path, true)?.ok_or_else(|| Error::invalid("a blocking lock returned unlocked"))
    }

    /// Takes the lock if nobody holds it; `None` otherwise.
    pub fn try_exclusive(path: &Path) -> Result<Option<Self>> {
        Self::take(path, false)
    }

    /// Whether somebody holds the lock on an existing file, without creating it: a probe
    /// must leave no trace (a fresh store directory stays empty).
    pub fn is_held(path: &Path) -> Result<bool> {
        let file = match OpenOptions::new().read(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Error::io(format!("open lock file {}", path.display()), e)),
        };
        // SAFETY: flock on an open descriptor; a shared probe conflicts with an exclusive holder.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) } == 0 {
            return Ok(false);
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Ok(true);
        }
        Err(Error::io(format!("lock {}", path.display()), err))
    }

    fn take(path: &Path, wait: bool) -> Result<Option<Self>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .ctx(|| format!("open lock file {}", path.display()))?;
        let op = if wait {
            libc::LOCK_EX
        } else {
            libc::LOCK_EX | libc::LOCK_NB
        };
        // SAFETY: flock on an open descriptor.
        if unsafe { libc::flock(file.as_raw_fd(), op) } != 0 {
            let err = std::io::Error::last_os_error();
            if !wait && err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Ok(None);
            }
            return Err(Error::io(format!("lock {}", path.display()), err));
        }
        Ok(Some(FileLock { _file: file }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    #[test]
    fn atomic_write_replaces_and_sets_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.json");
        write_atomic(&p, b"one", 0o600).unwrap();
        write_atomic(&p, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary left behind");
    }

    #[test]
    fn damaged_json_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.json");
        fs::write(&p, b"{not json").unwrap();
        let err = read_json::<serde_json::Value>(&p).unwrap_err();
        assert!(err.to_string().contains("bad.json"), "{err}");
    }

    #[test]
    fn sparse_copy_keeps_holes_and_data() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        let f = File::create(&src).unwrap();
        f.set_len(64 << 20).unwrap();
        f.write_all_at(&[7u8; 4096], 32 << 20).unwrap();
        drop(f);
        let dst = dir.path().join("dst");
        sparse_copy(&src, &dst, "copying").unwrap();
        assert_eq!(fs::read(&src).unwrap(), fs::read(&dst).unwrap());
        use std::os::unix::fs::MetadataExt;
        let blocks = fs::metadata(&dst).unwrap().blocks();
        assert!(blocks * 512 < 1 << 20, "copy is sparse ({blocks} blocks)");
    }
}
