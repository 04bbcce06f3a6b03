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

/// Whether a command line (the arguments after the program name) may read a disk's data from
/// the store: a snapshot, a copy, an image, an export. Only those wait for the writeback cache:
/// a flush of the whole mount can take long when much is dirty, and no other command needs it.
/// (The command is found as two adjacent words anywhere, so that global flags before it do not
/// hide it; a flag's value that happens to match only costs a flush.)
pub fn reads_disk_data(args: &[String]) -> bool {
    args.windows(2).any(|pair| {
        matches!(
            (pair[0].as_str(), pair[1].as_str()),
            ("snapshot", "create")
                | ("disk", "create")
                | ("image", "create")
                | ("disk" | "snapshot", "grant-access")
                | ("vm" | "vmss", "create")
                | ("resource", "move")
        )
    })
}

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

#[cfg(test)]
mod tests {
    use super::reads_disk_data;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn only_commands_that_read_a_disks_data_flush() {
        assert!(reads_disk_data(&args(
            "snapshot create -n s -g rg --source d"
        )));
        assert!(reads_disk_data(&args(
            "--store /s -o none disk create -n c --source d"
        )));
        assert!(reads_disk_data(&args(
            "disk grant-access -n d --duration-in-seconds 60"
        )));
        assert!(!reads_disk_data(&args("disk list -g rg")));
        assert!(!reads_disk_data(&args(
            "keyvault key set-attributes --enabled false"
        )));
    }
}
