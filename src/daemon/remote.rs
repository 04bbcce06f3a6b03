//! Commands forwarded to a running mount daemon over `STORE/daemon.sock`.
//!
//! While a store is mounted, the daemon is its only writer: it holds the store lock for as
//! long as it runs. A command run meanwhile sends its arguments, working directory and
//! `SSEFS_NOW` to the daemon as one JSON line, and gets back what to print and the exit code;
//! the daemon runs it against its own service, so a disk created with the CLI appears in the
//! mount at once.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use parking_lot::Mutex;

use crate::clock;
use crate::error::{Error, IoContext, Result};
use crate::fsio::FileLock;
use crate::log;
use crate::service::Service;

/// Largest request or reply accepted, far above any real command.
const MAX_MESSAGE: u64 = 16 << 20;
/// How long a client waits for a daemon that holds the store but is still starting.
const CONNECT_PATIENCE: Duration = Duration::from_secs(30);

/// A forwarded command.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    /// The arguments after the program name.
    pub args: Vec<String>,
    /// The caller's working directory, for relative paths in arguments.
    pub cwd: PathBuf,
    /// The caller's `SSEFS_NOW`.
    pub now: Option<i64>,
}

/// What the command printed and how it exited.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Reply {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a forwarded command against the daemon's service (supplied by the command line,
/// which knows how to parse it).
pub type Handler = dyn Fn(&mut Service, Request) -> Reply + Send + Sync;

/// `STORE/daemon.sock`.
pub fn socket_path(store: &Path) -> PathBuf {
    store.join("daemon.sock")
}

/// `STORE/daemon.lock`: held by a running daemon for its whole life.
pub fn daemon_lock_path(store: &Path) -> PathBuf {
    store.join("daemon.lock")
}

/// Whether a daemon serves `store` now.
pub fn daemon_running(store: &Path) -> Result<bool> {
    if !store.exists() {
        return Ok(false);
    }
    Ok(FileLock::try_exclusive(&daemon_lock_path(store))?.is_none())
}

/// Sends `request` to the daemon serving `store`; `None` when there is none.
pub fn forward(store: &Path, request: &Request) -> Result<Option<Reply>> {
    let started = Instant::now();
    loop {
        if !daemon_running(store)? {
            return Ok(None);
        }
        match UnixStream::connect(socket_path(store)) {
            Ok(stream) => return exchange(stream, request).map(Some),
            Err(e) if started.elapsed() < CONNECT_PATIENCE => {
                log::debug(&format!("daemon not answering yet ({e}); retrying"));
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => {
                return Err(Error::io(
                    format!(
                        "connect to the mount daemon at {}",
                        socket_path(store).display()
                    ),
                    e,
                ));
            }
        }
    }
}

fn exchange(mut stream: UnixStream, request: &Request) -> Result<Reply> {
    let body =
        serde_json::to_vec(request).map_err(|e| Error::invalid(format!("encode request: {e}")))?;
    stream.write_all(&body).ctx(|| "send to the mount daemon")?;
    stream
        .shutdown(std::net::Shutdown::Write)
        .ctx(|| "send to the mount daemon")?;
    let mut reply = Vec::new();
    stream
        .take(MAX_MESSAGE)
        .read_to_end(&mut reply)
        .ctx(|| "read the mount daemon's reply")?;
    serde_json::from_slice(&reply)
        .map_err(|e| Error::invalid(format!("the mount daemon's reply is not valid: {e}")))
}

/// Serves forwarded commands on `STORE/daemon.sock` from a background thread.
pub fn serve(store: &Path, service: Arc<Mutex<Service>>, handler: Arc<Handler>) -> Result<()> {
    let path = socket_path(store);
    // A socket left by a daemon that was killed: nobody listens on it (we hold the lock).
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).ctx(|| format!("listen on {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .ctx(|| format!("chmod {}", path.display()))?;
    std::thread::Builder::new()
        .name("ssefs-remote".into())
        .spawn(move || {
            for conn in listener.incoming() {
                match conn {
                    Ok(stream) => {
                        let handler = handler.clone();
                        let service = service.clone();
                        let spawned = std::thread::Builder::new()
                            .name("ssefs-command".into())
                            .spawn(move || answer(stream, &service, &*handler));
                        if let Err(e) = spawned {
                            log::warn(&format!("cannot start a command thread: {e}"));
                        }
                    }
                    Err(e) => log::warn(&format!("accept on the command socket: {e}")),
                }
            }
        })
        .ctx(|| "start the command socket thread")?;
    Ok(())
}

fn answer(mut stream: UnixStream, service: &Mutex<Service>, handler: &Handler) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let mut body = Vec::new();
    let reply = match (&mut stream).take(MAX_MESSAGE).read_to_end(&mut body) {
        Err(e) => Reply {
            code: 1,
            stderr: format!("(IOError) reading the request: {e}\n"),
            ..Reply::default()
        },
        Ok(_) => match serde_json::from_slice::<Request>(&body) {
            Ok(request) => {
                // Commands run one at a time under the service lock, so the caller's clock
                // override cannot leak into another command.
                let mut service = service.lock();
                clock::set_override(request.now);
                let reply = handler(&mut service, request);
                // Key changes take effect on open disks at once.
                service.refresh_open_volumes();
                clock::set_override(None);
                reply
            }
            Err(e) => Reply {
                code: 2,
                stderr: format!("(InvalidArgument) malformed request: {e}\n"),
                ..Reply::default()
            },
        },
    };
    match serde_json::to_vec(&reply) {
        Ok(bytes) => {
            if let Err(e) = stream.write_all(&bytes) {
                log::warn(&format!("reply to a command: {e}"));
            }
        }
        Err(e) => log::warn(&format!("encode a reply: {e}")),
    }
}
