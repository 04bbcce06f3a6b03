//! `ssefs mount` and `ssefs unmount`.

use std::path::PathBuf;

use clap::Args;

/// FUSE request threads of a mount, unless `--threads` says otherwise.
pub const DEFAULT_THREADS: usize = 16;

/// Serve the store through FUSE: MOUNTPOINT/disks/NAME and MOUNTPOINT/snapshots/NAME.
#[derive(Debug, Args)]
pub struct MountCmd {
    /// An empty directory.
    pub mountpoint: PathBuf,
    /// Stay in the foreground with logs on stderr (default: detach once the mount is ready).
    #[arg(long)]
    pub foreground: bool,
    /// Let other users open the files (needs user_allow_other in /etc/fuse.conf for non-root).
    #[arg(long)]
    pub allow_other: bool,
    /// FUSE request threads: each blocks on the backing file while it waits for the disk, so
    /// more threads than cores keep a deep queue (fio iodepth 16) busy. Over io_uring they are
    /// the ring entries, spread evenly over the CPUs' queues (at least one each).
    #[arg(long, default_value_t = DEFAULT_THREADS)]
    pub threads: usize,
    /// Host caching of disk and snapshot files: None (direct I/O, no plaintext in the page
    /// cache), ReadOnly (the page cache serves reads; writes go through) or ReadWrite (the
    /// kernel's writeback cache as well).
    #[arg(long, default_value = "None", value_parser = crate::fs::Caching::parse)]
    pub caching: crate::fs::Caching,
    /// How the kernel's requests reach ssefs: auto (FUSE over io_uring when root has enabled
    /// it, echo Y > /sys/module/fuse/parameters/enable_uring; /dev/fuse otherwise), dev-fuse,
    /// or io-uring (the mount fails without it).
    #[arg(long, default_value = "auto", value_parser = crate::fs::ring::Transport::parse)]
    pub transport: crate::fs::ring::Transport,
    /// Internal: the pipe a detached daemon reports readiness on.
    #[arg(long, hide = true)]
    pub ready_fd: Option<i32>,
}

/// Flush, unmount and stop the daemon (also clears a stale mount left by a killed daemon).
#[derive(Debug, Args)]
pub struct UnmountCmd {
    pub mountpoint: PathBuf,
}
