//! Writing the kernel's writeback cache out before a command reads a disk's data (caching
//! `ReadWrite`): a snapshot or a copy made from the store's ciphertext must contain what a
//! program wrote through the mount, even when those writes still sit in the host's page cache.
//!
//! How: `syncfs(2)` on the mount itself. The kernel writes every dirty page of the mount back
//! as ordinary FUSE write requests, served by the request threads, and returns once they are
//! done. The caller must hold no lock a request thread needs (the service lock above all),
//! and a request thread that flushes needs another one free to serve the writes (so
//! `ReadWrite` needs `--threads` of at least 2).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use crate::log;

/// The mount point, whose root is opened for each flush and closed at once: a descriptor kept
/// open would make the mount busy and `umount` fail.
pub struct WritebackFlush {
    mountpoint: PathBuf,
}

impl WritebackFlush {
    /// A flusher for the mount at `mountpoint`.
    pub fn new(mountpoint: PathBuf) -> Self {
        WritebackFlush { mountpoint }
    }

    /// Writes every dirty page of the mount back to the store and waits for it. A failure is
    /// logged, not returned: `syncfs` also reports a write that failed earlier (past the end
    /// of a disk, under a revoked key), which belongs to the program that wrote it (its
    /// `fsync` or `close` reports it) and must not refuse an unrelated command.
    pub fn flush(&self) {
        let root = match File::open(&self.mountpoint) {
            Ok(root) => root,
            Err(e) => {
                log::warn(&format!(
                    "write the host cache back: open {}: {e}",
                    self.mountpoint.display()
                ));
                return;
            }
        };
        // SAFETY: syncfs takes a descriptor we own for the call's duration.
        if unsafe { libc::syncfs(root.as_raw_fd()) } != 0 {
            log::warn(&format!(
                "write the host cache back (syncfs): {}",
                std::io::Error::last_os_error()
            ));
        }
    }
}
