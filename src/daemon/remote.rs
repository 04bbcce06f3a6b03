//! Commands forwarded to a running mount daemon over `STORE/daemon.sock`.
//!
//! While a store is mounted, the daemon is its only writer: it holds the store lock for as
//! long as it runs. A command run meanwhile sends its arguments, working directory,
//! `SSEFS_NOW` and the contents of the files its arguments name to the daemon as one JSON
//! object, and gets back what to print and the exit code; the daemon runs it against its own
//! service, so a disk created with the CLI appears in the mount at once.
//!
//! Who may talk to it: the socket is created 0600 (under a umask, so there is no window with a
//! wider mode), and every connection's peer is checked with `SO_PEERCRED`: only root and the
//! owner of the store directory are served, whatever the modes on disk say.
//!
//! Nothing waits forever: the daemon reads a request and writes a reply with a timeout, and
//! while a command runs it sends a space (JSON whitespace) every [`HEARTBEAT`] so that the
//! client can tell a long command from a wedged daemon, whose silence ends the wait after
//! [`CLIENT_PATIENCE`]. A caller whose stderr is a terminal asks for progress: the daemon then
//! also sends each change of its work's progress as a frame ([`PROGRESS_FRAME`]) before the
//! reply, and the caller draws it (crate::progress). The daemon never opens a path a caller names: the caller reads the
//! file ([`ClientFiles`]) and sends its contents, and a file a command makes for its caller
//! (`key backup --file`) comes back in the reply ([`ReplyFile`]) for the caller to write.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use parking_lot::Mutex;

use crate::clock;
use crate::error::{Error, IoContext, Result};
use crate::fsio::FileLock;
use crate::log;
use crate::service::Service;

/// Largest request or reply accepted, far above any real command.
const MAX_MESSAGE: u64 = 16 << 20;
/// Largest file a command may name (a PEM key is a few KiB).
pub const MAX_CLIENT_FILE: u64 = 1 << 20;
/// How long a client waits for a daemon that holds the store but is still starting.
const CONNECT_PATIENCE: Duration = Duration::from_secs(30);
/// How often a running command tells its client it is still alive.
const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long a client waits without hearing from the daemon before giving up.
const CLIENT_PATIENCE: Duration = Duration::from_secs(30);
/// How long the daemon waits for a request to arrive or a reply to leave.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);

/// A forwarded command.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    /// The arguments after the program name.
    pub args: Vec<String>,
    /// The caller's working directory, for relative paths in arguments.
    pub cwd: PathBuf,
    /// The caller's `SSEFS_NOW` (honoured only on a store whose `test-clock` is true).
    pub now: Option<i64>,
    /// The files the arguments name, read by the caller.
    #[serde(default)]
    pub files: ClientFiles,
    /// The caller's `SSEFS_STRICT`.
    #[serde(default)]
    pub strict: bool,
}

/// A request as sent: the command, and whether its caller draws the daemon's progress (its
/// stderr is a terminal). A daemon that does not know `progress` ignores it.
#[derive(Serialize)]
struct Outgoing<'a> {
    #[serde(flatten)]
    request: &'a Request,
    progress: bool,
}

/// A request as received (see [`Outgoing`]).
#[derive(Deserialize)]
struct Incoming {
    #[serde(flatten)]
    request: Request,
    #[serde(default)]
    progress: bool,
}

/// Starts a progress frame: `0x1E`, the JSON of a `progress::Update` (or `null` when the work
/// ended), `\n`. Frames go before the reply, like the heartbeat's spaces, and only to a caller
/// that asked for them.
const PROGRESS_FRAME: u8 = 0x1e;

/// The uid of the caller of the forwarded command being run (from `SO_PEERCRED`, never from
/// the request), or -1 outside the daemon.
static FORWARDED_CALLER: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(-1);

/// Whether the running command may name files for the daemon to open (a VM's image, kernel,
/// initrd): only when its caller is root or the daemon's own user. A root daemon must not read
/// a file for a caller who could not read it (the store's owner is admitted to the socket).
pub fn caller_may_name_files(what: &str) -> Result<()> {
    let caller = FORWARDED_CALLER.load(Ordering::Relaxed);
    // SAFETY: geteuid cannot fail.
    let me = i64::from(unsafe { libc::geteuid() });
    // -1: not a forwarded command (the caller is this process); 0: root.
    if caller <= 0 || caller == me {
        Ok(())
    } else {
        Err(Error::AccessDenied(format!(
            "{what}: the mount daemon runs as uid {me} and opens files only for its own user or root, not for uid {caller}; run the daemon as uid {caller} (ssefs mount) to name files"
        )))
    }
}

/// Largest binary file a command may name (a key backup: many versions' private keys).
pub const MAX_CLIENT_BINARY: u64 = crate::crypto::MAX_SEALED as u64 + (64 << 10);

/// Files named by a command's arguments (`--pem-file`, `key restore --file`), read by the
/// caller: path as given on the command line → contents. Contents may be secret (a private
/// key): wiped on drop, and never shown by `Debug`.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct ClientFiles(BTreeMap<String, FileContents>);

/// One file's contents: text as it is (a PEM key), or bytes in base64 (a key backup). Untagged,
/// so a text file travels as a JSON string, as it always has.
#[derive(Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum FileContents {
    Text(Zeroizing<String>),
    Binary { base64: Zeroizing<String> },
}

impl std::fmt::Debug for ClientFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl ClientFiles {
    /// Reads `path` (relative to `cwd`): a regular file of at most [`MAX_CLIENT_FILE`] bytes of
    /// UTF-8. A FIFO, a device or anything else is refused without blocking on it.
    pub fn read(&mut self, cwd: &Path, path: &Path) -> Result<()> {
        let bytes = read_bounded(cwd, path, MAX_CLIENT_FILE)?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| Error::invalid(format!("{} is not text", path.display())))?;
        self.0.insert(
            path.to_string_lossy().into_owned(),
            FileContents::Text(Zeroizing::new(text.to_string())),
        );
        Ok(())
    }

    /// Reads a binary file (a key backup) the same way, up to [`MAX_CLIENT_BINARY`] bytes.
    pub fn read_binary(&mut self, cwd: &Path, path: &Path) -> Result<()> {
        use base64ct::{Base64, Encoding};
        let bytes = read_bounded(cwd, path, MAX_CLIENT_BINARY)?;
        self.0.insert(
            path.to_string_lossy().into_owned(),
            FileContents::Binary {
                base64: Zeroizing::new(Base64::encode_string(&bytes)),
            },
        );
        Ok(())
    }

    fn contents(&self, path: &Path) -> Result<&FileContents> {
        self.0.get(path.to_string_lossy().as_ref()).ok_or_else(|| {
            Error::invalid(format!(
                "the contents of {} were not sent with the command",
                path.display()
            ))
        })
    }

    /// The contents of the text file `path`, as read by the caller.
    pub fn get(&self, path: &Path) -> Result<&str> {
        match self.contents(path)? {
            FileContents::Text(text) => Ok(text.as_str()),
            FileContents::Binary { .. } => Err(Error::invalid(format!(
                "{} was sent as a binary file, not text",
                path.display()
            ))),
        }
    }

    /// The bytes of `path`, as read by the caller (text or binary).
    pub fn get_bytes(&self, path: &Path) -> Result<Zeroizing<Vec<u8>>> {
        use base64ct::{Base64, Encoding};
        match self.contents(path)? {
            FileContents::Text(text) => Ok(Zeroizing::new(text.as_bytes().to_vec())),
            FileContents::Binary { base64 } => {
                Base64::decode_vec(base64).map(Zeroizing::new).map_err(|_| {
                    Error::invalid(format!(
                        "the contents of {} were not sent correctly (bad base64)",
                        path.display()
                    ))
                })
            }
        }
    }
}

/// Reads a regular file of at most `max` bytes without blocking on a FIFO or a device.
fn read_bounded(cwd: &Path, path: &Path, max: u64) -> Result<Zeroizing<Vec<u8>>> {
    let full = cwd.join(path);
    let shown = path.display();
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(&full)
        .ctx(|| format!("read {shown}"))?;
    let meta = file.metadata().ctx(|| format!("stat {shown}"))?;
    if !meta.is_file() {
        return Err(Error::invalid(format!("{shown} is not a regular file")));
    }
    let too_large = || Error::invalid(format!("{shown} is larger than {} KiB", max >> 10));
    if meta.len() > max {
        return Err(too_large());
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(meta.len() as usize));
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .ctx(|| format!("read {shown}"))?;
    if bytes.len() as u64 > max {
        return Err(too_large());
    }
    Ok(bytes)
}

/// What the command printed and how it exited.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Reply {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Files the command made for its caller to write (`key backup --file`): the daemon never
    /// writes a path a caller names, so they travel back with the reply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<ReplyFile>,
}

/// A file for the caller to write: the path as the caller gave it, the bytes in base64.
#[derive(Clone, Serialize, Deserialize)]
pub struct ReplyFile {
    pub path: String,
    pub base64: String,
}

impl std::fmt::Debug for ReplyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ReplyFile({}, {} base64 bytes)",
            self.path,
            self.base64.len()
        )
    }
}

impl ReplyFile {
    /// A file `path` (as the caller named it) of `bytes`.
    pub fn new(path: &Path, bytes: &[u8]) -> ReplyFile {
        use base64ct::{Base64, Encoding};
        ReplyFile {
            path: path.to_string_lossy().into_owned(),
            base64: Base64::encode_string(bytes),
        }
    }
}

impl Reply {
    /// Writes the reply's files on the caller's side, relative to `cwd`, each atomically and
    /// 0600 (a backup is sealed, but it is key material all the same). A file that cannot be
    /// written turns the reply into that error.
    pub fn write_files(mut self, cwd: &Path) -> Reply {
        use base64ct::{Base64, Encoding};
        for file in std::mem::take(&mut self.files) {
            let path = cwd.join(&file.path);
            let written = Base64::decode_vec(&file.base64)
                .map_err(|_| {
                    Error::invalid(format!("the contents of {} came back damaged", file.path))
                })
                .and_then(|bytes| crate::fsio::write_atomic(&path, &bytes, 0o600));
            if let Err(e) = written {
                return Reply {
                    code: e.exit_code(),
                    stdout: String::new(),
                    stderr: format!("{}({}) {e}\n", self.stderr, e.code()),
                    files: Vec::new(),
                };
            }
        }
        self
    }
}

/// Serialises forwarded commands and the daemon's own periodic work (see
/// [`crate::daemon::schedule`]): the clock override is process-wide, so one of them at a time
/// holds it. It keeps the test clock's last reading: the `SSEFS_NOW` of the last forwarded
/// command on a store whose `test-clock` is true (`None` after a command without one), which is
/// the only way the daemon learns a test clock (its own environment is never read for it).
pub type CommandGate = Mutex<Option<i64>>;

/// Runs a forwarded command against the daemon's service (supplied by the command line,
/// which knows how to parse it). It gets the lock, not the service: long work (copying a
/// disk's data) runs without holding it, so the mount keeps serving meanwhile.
pub type Handler = dyn Fn(&Mutex<Service>, Request) -> Reply + Send + Sync;

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
    FileLock::is_held(&daemon_lock_path(store))
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

/// Asks the daemon of `store` to power off its VMs and waits until it has (before an
/// unmount: their runners hold disk files open).
pub fn power_off_vms(store: &Path) -> Result<()> {
    let request = Request {
        args: vec![
            "vm".into(),
            "power-off-all".into(),
            "-o".into(),
            "none".into(),
        ],
        cwd: PathBuf::from("/"),
        now: None,
        files: ClientFiles::default(),
        strict: false,
    };
    match forward(store, &request)? {
        Some(reply) if reply.code != 0 => Err(Error::Busy(format!(
            "the VMs did not power off: {}",
            reply.stderr.trim()
        ))),
        _ => Ok(()),
    }
}

fn exchange(mut stream: UnixStream, request: &Request) -> Result<Reply> {
    let outgoing = Outgoing {
        request,
        progress: crate::progress::wanted(),
    };
    let body = Zeroizing::new(
        serde_json::to_vec(&outgoing)
            .map_err(|e| Error::invalid(format!("encode request: {e}")))?,
    );
    stream
        .set_write_timeout(Some(CLIENT_PATIENCE))
        .ctx(|| "set a timeout on the mount daemon's socket")?;
    // The daemon sends a heartbeat while the command runs: silence this long means it is stuck.
    stream
        .set_read_timeout(Some(CLIENT_PATIENCE))
        .ctx(|| "set a timeout on the mount daemon's socket")?;
    stream.write_all(&body).ctx(|| "send to the mount daemon")?;
    stream
        .shutdown(std::net::Shutdown::Write)
        .ctx(|| "send to the mount daemon")?;
    let reply = read_reply(stream).map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => Error::Busy(format!(
            "the mount daemon did not answer for {} s; see its log (STORE/daemon.log)",
            CLIENT_PATIENCE.as_secs()
        )),
        _ => Error::io("read the mount daemon's reply", e),
    })?;
    serde_json::from_slice(&reply)
        .map_err(|e| Error::invalid(format!("the mount daemon's reply is not valid: {e}")))
}

/// Reads the daemon's answer: heartbeat spaces and progress frames (drawn as they come), then
/// the reply, returned.
fn read_reply(stream: UnixStream) -> std::io::Result<Vec<u8>> {
    use std::io::BufRead;
    let mut input = std::io::BufReader::new(stream.take(MAX_MESSAGE));
    let mut mirror = crate::progress::Mirror::default();
    loop {
        let first = match input.fill_buf()?.first() {
            Some(&b) => b,
            None => return Ok(Vec::new()),
        };
        match first {
            b' ' => input.consume(1),
            PROGRESS_FRAME => {
                let mut frame = Vec::new();
                input.read_until(b'\n', &mut frame)?;
                // A frame this client cannot read is only a bar not drawn.
                if let Ok(update) = serde_json::from_slice(&frame[1..]) {
                    mirror.show(update);
                }
            }
            _ => {
                drop(mirror);
                let mut reply = Vec::new();
                input.read_to_end(&mut reply)?;
                return Ok(reply);
            }
        }
    }
}

/// Who may use the socket: root and the owner of the store directory.
#[derive(Debug, Clone, Copy)]
pub struct Owner {
    uid: u32,
}

impl Owner {
    /// The owner of `store` (the daemon's own user when it cannot be read).
    pub fn of_store(store: &Path) -> Owner {
        // SAFETY: geteuid cannot fail.
        let me = unsafe { libc::geteuid() };
        Owner {
            uid: std::fs::metadata(store).map_or(me, |m| m.uid()),
        }
    }

    /// Whether the user `uid` may act on this store.
    pub fn admits(&self, uid: u32) -> bool {
        uid == 0 || uid == self.uid
    }
}

/// The uid of the process at the other end of `stream`.
fn peer_uid(stream: &UnixStream) -> std::io::Result<u32> {
    // SAFETY: getsockopt writes a ucred of the size we pass into a zeroed local.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(cred.uid)
}

/// Binds the socket with a umask that leaves it 0600 from the first instant.
fn bind_private(path: &Path) -> std::io::Result<UnixListener> {
    // SAFETY: umask only swaps the process's mask; the daemon binds before it starts the FUSE
    // threads, so no other thread creates files meanwhile.
    let old = unsafe { libc::umask(0o177) };
    let bound = UnixListener::bind(path);
    // SAFETY: restores the mask saved above.
    unsafe { libc::umask(old) };
    bound
}

/// Serves forwarded commands on `STORE/daemon.sock` from a background thread; returns the gate
/// they run under, for the daemon's periodic work.
pub fn serve(
    store: &Path,
    service: Arc<Mutex<Service>>,
    handler: Arc<Handler>,
) -> Result<Arc<CommandGate>> {
    let path = socket_path(store);
    let owner = Owner::of_store(store);
    // A socket left by a daemon that was killed: nobody listens on it (we hold the lock).
    let _ = std::fs::remove_file(&path);
    let listener = bind_private(&path).ctx(|| format!("listen on {}", path.display()))?;
    // Forwarded commands run one after another (as they would on the store lock), though each
    // releases the service lock during long work; the clock override is theirs meanwhile.
    let commands: Arc<CommandGate> = Arc::new(Mutex::new(None));
    let gate = commands.clone();
    std::thread::Builder::new()
        .name("ssefs-remote".into())
        .spawn(move || {
            for conn in listener.incoming() {
                match conn {
                    Ok(stream) => {
                        let handler = handler.clone();
                        let service = service.clone();
                        let commands = commands.clone();
                        let spawned = std::thread::Builder::new()
                            .name("ssefs-command".into())
                            .spawn(move || answer(stream, owner, &commands, &service, &*handler));
                        if let Err(e) = spawned {
                            log::warn(&format!("cannot start a command thread: {e}"));
                        }
                    }
                    Err(e) => log::warn(&format!("accept on the command socket: {e}")),
                }
            }
        })
        .ctx(|| "start the command socket thread")?;
    Ok(gate)
}

fn refusal(code: i32, line: String) -> Reply {
    Reply {
        code,
        stdout: String::new(),
        stderr: format!("{line}\n"),
        files: Vec::new(),
    }
}

fn answer(
    mut stream: UnixStream,
    owner: Owner,
    commands: &CommandGate,
    service: &Mutex<Service>,
    handler: &Handler,
) {
    let _ = stream.set_read_timeout(Some(EXCHANGE_TIMEOUT));
    let _ = stream.set_write_timeout(Some(EXCHANGE_TIMEOUT));
    // The request is read whoever sent it (bounded in size and time), so that a refusal is
    // a reply the caller can read rather than a reset connection.
    let mut body = Zeroizing::new(Vec::new());
    let read = (&mut stream).take(MAX_MESSAGE).read_to_end(&mut body);
    let reply = match (peer_uid(&stream), read) {
        (Err(e), _) => refusal(1, format!("(IOError) who is calling: {e}")),
        (Ok(uid), _) if !owner.admits(uid) => {
            log::warn(&format!(
                "refused a command from uid {uid}: only root and the store's owner may act"
            ));
            refusal(
                1,
                format!(
                    "(AuthorizationFailed) uid {uid} may not manage this store: only root and its owner may"
                ),
            )
        }
        (Ok(_), Err(e)) => refusal(1, format!("(IOError) reading the request: {e}")),
        (Ok(uid), Ok(_)) => run_request(&stream, body, uid, commands, service, handler),
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

fn run_request(
    stream: &UnixStream,
    body: Zeroizing<Vec<u8>>,
    caller: u32,
    commands: &CommandGate,
    service: &Mutex<Service>,
    handler: &Handler,
) -> Reply {
    let (request, wants_progress) = match serde_json::from_slice::<Incoming>(&body) {
        Ok(incoming) => (incoming.request, incoming.progress),
        Err(e) => return refusal(2, format!("(InvalidArgument) malformed request: {e}")),
    };
    drop(body);
    let mut test_now = commands.lock();
    let test_clock = service.lock().store().config().test_clock();
    if test_clock {
        clock::set_override(request.now);
    }
    *test_now = request.now.filter(|_| test_clock);
    let ignored_clock = !test_clock && request.now.is_some();
    // The caller draws the progress of this command's work (the gate above keeps it the only
    // forwarded command running).
    let relay = wants_progress.then(|| Arc::new(crate::progress::Relay::default()));
    crate::progress::relay_to(relay.clone());
    let alive = heartbeat(stream, relay);
    FORWARDED_CALLER.store(i64::from(caller), Ordering::Relaxed);
    let mut reply = handler(service, request);
    FORWARDED_CALLER.store(-1, Ordering::Relaxed);
    // Rotations the command's clock has made due (it may have moved SSEFS_NOW, or set a
    // policy) happen before the reply leaves, on that clock: the reliable trigger in a mount.
    service.lock().run_due_rotations();
    crate::progress::relay_to(None);
    alive.stop();
    // Key changes take effect on open disks at once: refused at once, and the kernel's cached
    // pages dropped before the reply leaves (the wait runs without the service lock).
    service.lock().refresh_open_volumes();
    crate::service::wait_for_revocations(service);
    clock::set_override(None);
    if ignored_clock {
        reply.stderr = format!(
            "ssefs: warning: {}\n{}",
            clock::IGNORED_WARNING,
            reply.stderr
        );
    }
    reply
}

/// Sends a space every [`HEARTBEAT`] on a clone of `stream` until stopped, and each change of
/// `relay`'s progress as a frame when it comes (checked every 50 ms).
struct Heartbeat {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn heartbeat(stream: &UnixStream, relay: Option<Arc<crate::progress::Relay>>) -> Heartbeat {
    let stop = Arc::new(AtomicBool::new(false));
    let thread = stream.try_clone().ok().and_then(|mut out| {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("ssefs-heartbeat".into())
            .spawn(move || {
                let mut waited = Duration::ZERO;
                // Sends what the relay has: how many frames, or `None` when the caller is gone.
                let send_changes = |out: &mut UnixStream| -> Option<usize> {
                    let changes = relay.as_ref().map(|r| r.take_changes()).unwrap_or_default();
                    for change in &changes {
                        let mut frame = vec![PROGRESS_FRAME];
                        if serde_json::to_writer(&mut frame, change).is_ok() {
                            frame.push(b'\n');
                            out.write_all(&frame).ok()?;
                        }
                    }
                    Some(changes.len())
                };
                while !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(50));
                    waited += Duration::from_millis(50);
                    match send_changes(&mut out) {
                        None => return,
                        Some(0) => {}
                        Some(_) => waited = Duration::ZERO,
                    }
                    if waited >= HEARTBEAT {
                        waited = Duration::ZERO;
                        if out.write_all(b" ").is_err() {
                            return;
                        }
                    }
                }
                // Work that ended since the last check still shows its bar, before the reply.
                let _ = send_changes(&mut out);
            })
            .ok()
    });
    Heartbeat { stop, thread }
}

impl Heartbeat {
    fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
