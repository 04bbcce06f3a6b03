//! The one error type of ssefs.
//!
//! Every layer returns [`Error`]. Two exhaustive matches decide what a caller sees: [`Error::errno`]
//! for the FUSE front end and the control files, and [`Error::code`] / [`Error::exit_code`] for
//! the command line, which prints `(Code) message` like az. Messages never contain key material.

use std::io;
use std::path::{Path, PathBuf};

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, by cause.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A named resource does not exist.
    #[error("The {kind} '{name}' was not found.")]
    NotFound { kind: &'static str, name: String },

    /// A resource group does not exist (in the current subscription).
    #[error("Resource group '{0}' could not be found.")]
    GroupNotFound(String),

    /// `group create` of an existing group in another location.
    #[error("{0}")]
    InvalidLocation(String),

    /// A name is already taken (names are unique case-insensitively).
    #[error("The {kind} '{name}' already exists.")]
    AlreadyExists { kind: &'static str, name: String },

    /// Malformed input: a bad name, id, URL, flag value or control command.
    #[error("{0}")]
    InvalidArgument(String),

    /// The request is well formed but a rule of the domain forbids it.
    #[error("{0}")]
    NotAllowed(String),

    /// The key version that protects a resource is disabled.
    #[error("The key '{key}' is disabled: {why}")]
    KeyDisabled { key: String, why: String },

    /// The key version is outside its dates (expired, or not yet active): it may not wrap.
    #[error("The key '{key}' cannot wrap now: {why}")]
    KeyExpired { key: String, why: String },

    /// The key (or its vault) is soft-deleted or gone.
    #[error("The key '{key}' is deleted: {why}")]
    KeyDeleted { key: String, why: String },

    /// The directory that holds the vaults (setting `vault.dir`) cannot be reached: no vault key
    /// can be read until it is back. A KeyNotFound of its own, so that the message names the
    /// directory rather than calling every key deleted.
    #[error(
        "The key vault directory '{}' cannot be reached ({why}): no vault key can be used until it is back (setting vault.dir)",
        .dir.display()
    )]
    KeysUnreachable { dir: PathBuf, why: String },

    /// An option or value az accepts that has no meaning here and is not emulated: the
    /// message names it.
    #[error("{0}")]
    NotSupported(String),

    /// The caller lacks a vault permission.
    #[error("Access denied: {0}")]
    AccessDenied(String),

    /// The resource is in use (attached) or the store is busy.
    #[error("{0}")]
    Busy(String),

    /// A stored file is damaged or of a format this version does not know.
    #[error("{path}: {problem}")]
    Corrupt { path: PathBuf, problem: String },

    /// A cryptographic operation failed (wrong key, bad ciphertext length).
    #[error("{0}")]
    Crypto(String),

    /// A command already run by the mount daemon: what it printed and its exit code.
    #[error("{}", .stderr.trim_end())]
    Forwarded {
        code: i32,
        stdout: String,
        stderr: String,
    },

    /// An operating-system error, with what we were doing.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// Builds [`Error::NotFound`].
    pub fn not_found(kind: &'static str, name: impl Into<String>) -> Self {
        Error::NotFound {
            kind,
            name: name.into(),
        }
    }

    /// Builds [`Error::InvalidArgument`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }

    /// Builds [`Error::NotAllowed`].
    pub fn not_allowed(msg: impl Into<String>) -> Self {
        Error::NotAllowed(msg.into())
    }

    /// Builds [`Error::NotSupported`].
    pub fn not_supported(msg: impl Into<String>) -> Self {
        Error::NotSupported(msg.into())
    }

    /// Builds [`Error::Corrupt`].
    pub fn corrupt(path: &Path, problem: impl Into<String>) -> Self {
        Error::Corrupt {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }

    /// Wraps an I/O error with what was being done, usually naming the file.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The errno a FUSE reply or a refused control-file write carries.
    pub fn errno(&self) -> i32 {
        match self {
            Error::NotFound { .. } | Error::GroupNotFound(_) => libc::ENOENT,
            Error::InvalidLocation(_) => libc::EINVAL,
            Error::AlreadyExists { .. } => libc::EEXIST,
            Error::InvalidArgument(_) => libc::EINVAL,
            Error::NotAllowed(_) => libc::EPERM,
            Error::KeyDisabled { .. } => libc::EKEYREVOKED,
            Error::KeyExpired { .. } => libc::EKEYEXPIRED,
            Error::KeyDeleted { .. } => libc::ENOKEY,
            Error::KeysUnreachable { .. } => libc::ENOKEY,
            Error::AccessDenied(_) => libc::EACCES,
            Error::NotSupported(_) => libc::EOPNOTSUPP,
            Error::Busy(_) => libc::EBUSY,
            Error::Corrupt { .. } => libc::EIO,
            Error::Crypto(_) => libc::EIO,
            Error::Io { source, .. } => source.raw_os_error().unwrap_or(libc::EIO),
            Error::Forwarded { .. } => libc::EIO,
        }
    }

    /// The az-style error code printed as `(Code) message`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "ResourceNotFound",
            Error::GroupNotFound(_) => "ResourceGroupNotFound",
            Error::InvalidLocation(_) => "InvalidResourceGroupLocation",
            Error::AlreadyExists { .. } => "Conflict",
            Error::InvalidArgument(_) => "InvalidArgument",
            Error::NotAllowed(_) => "BadRequest",
            Error::KeyDisabled { .. } => "KeyDisabled",
            Error::KeyExpired { .. } => "KeyExpired",
            Error::KeyDeleted { .. } => "KeyNotFound",
            Error::KeysUnreachable { .. } => "KeyNotFound",
            Error::AccessDenied(_) => "Forbidden",
            Error::NotSupported(_) => "NotSupported",
            Error::Busy(_) => "OperationNotAllowed",
            Error::Corrupt { .. } => "CorruptStore",
            Error::Crypto(_) => "CryptoError",
            Error::Io { .. } => "IOError",
            Error::Forwarded { .. } => "Forwarded",
        }
    }

    /// The process exit code: az exits 3 for a missing resource, 2 for bad arguments, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::NotFound { .. } | Error::GroupNotFound(_) => 3,
            Error::InvalidArgument(_) => 2,
            Error::Forwarded { code, .. } => *code,
            Error::AlreadyExists { .. }
            | Error::InvalidLocation(_)
            | Error::NotAllowed(_)
            | Error::KeyDisabled { .. }
            | Error::KeyExpired { .. }
            | Error::KeyDeleted { .. }
            | Error::KeysUnreachable { .. }
            | Error::AccessDenied(_)
            | Error::NotSupported(_)
            | Error::Busy(_)
            | Error::Corrupt { .. }
            | Error::Crypto(_)
            | Error::Io { .. } => 1,
        }
    }
}

/// Adds a context to `io::Result`s: `file.sync_all().ctx(|| format!("sync {path}"))`.
pub trait IoContext<T> {
    /// Wraps the error with the context the closure builds.
    fn ctx<S: Into<String>>(self, context: impl FnOnce() -> S) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx<S: Into<String>>(self, context: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| Error::io(context(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errnos_and_codes_are_distinct_per_key_state() {
        let disabled = Error::KeyDisabled {
            key: "k".into(),
            why: "x".into(),
        };
        let deleted = Error::KeyDeleted {
            key: "k".into(),
            why: "x".into(),
        };
        let denied = Error::AccessDenied("x".into());
        assert_eq!(disabled.errno(), libc::EKEYREVOKED);
        assert_eq!(deleted.errno(), libc::ENOKEY);
        assert_eq!(denied.errno(), libc::EACCES);
        let unreachable = Error::KeysUnreachable {
            dir: "/keys".into(),
            why: "x".into(),
        };
        assert_eq!(unreachable.errno(), libc::ENOKEY);
        assert_eq!(unreachable.code(), "KeyNotFound");
        assert!(unreachable.to_string().contains("'/keys'"));
        assert_eq!(Error::not_found("disk", "d").exit_code(), 3);
        let io = Error::io("x", io::Error::from_raw_os_error(libc::ENOSPC));
        assert_eq!(io.errno(), libc::ENOSPC);
    }
}
