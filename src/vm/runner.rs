//! Launches the process that runs a VM (its "runner") and supervises it until it is reaped.
//!
//! The runner is qemu by default ([`command_line`]), or whatever the `vm.runner` template names.
//! The [`Supervisor`] keeps one runner per VM key and guarantees three things:
//!
//! - **No orphans.** Runners are forked by one long-lived launcher thread with
//!   `PR_SET_PDEATHSIG = SIGKILL` (which fires when the *forking thread* exits, hence not the
//!   short-lived callers of [`Supervisor::start`]), so they die with the daemon. A pid file per
//!   runner (`KEY.pid`: pid and start time) lets [`kill_leftovers`] finish the job after a
//!   `kill -9` that the death signal missed.
//! - **No stray signals.** A runner leaves the table before its pid is reaped, and every signal
//!   is sent under the table lock, so a pid in the table can never be a recycled one.
//! - **One report per run.** A waiter thread per runner reaps it and calls the exit hook once,
//!   holding no lock, with whether we asked it to stop.
//!
//! Runners are session leaders (`setsid`): terminal signals do not reach guests, and stop
//! signals go to the runner's process group, so a wrapper script's qemu hears them too.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use serde::{Deserialize, Serialize};

use super::accel::{self, Accel, QEMU};
use super::qmp;
use crate::error::{Error, IoContext, Result};
use crate::fsio;
use crate::log;

/// How long [`Supervisor::stop_all`] waits past the grace period (after which runners were sent
/// SIGKILL) for them to be reaped.
const REAP_PATIENCE: Duration = Duration::from_secs(10);

/// Boot options kept on a VM (`vm create --boot-kernel/--boot-initrd/--boot-append`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Boot {
    pub kernel: Option<PathBuf>,
    pub initrd: Option<PathBuf>,
    pub append: Option<String>,
}

/// Everything needed to launch one VM.
#[derive(Debug, Clone)]
pub struct RunnerSpec {
    /// The VM's name: qemu `-name`, `{name}` in a template.
    pub name: String,
    /// The plaintext file of the OS disk in the mount: `{os}` in a template.
    pub os_disk: PathBuf,
    /// Data disks in LUN order: `{data}` in a template (one argument each).
    pub data_disks: Vec<PathBuf>,
    /// Each attachment's host caching (`None`, `ReadOnly`, `ReadWrite`), the OS disk's first
    /// then the data disks' in LUN order; a missing entry means `ReadWrite`.
    pub caching: Vec<String>,
    pub boot: Boot,
    pub memory_mib: u32,
    pub cpus: u32,
    /// The guest's console (qemu's serial port), where the runner's stdout and stderr go too.
    pub console_log: PathBuf,
    /// qemu's QMP socket, through which a default runner is asked to power off.
    pub qmp_socket: PathBuf,
    /// The `vm.runner` setting; `None` means the default qemu runner.
    pub template: Option<String>,
    pub accel: Accel,
}

/// How a runner ended.
#[derive(Debug, Clone)]
pub struct ExitInfo {
    /// Its exit status, if it exited.
    pub status: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// Whether we had asked it to stop (request_stop, kill or stop_all) during this run.
    pub requested: bool,
}

impl ExitInfo {
    fn describe(&self) -> String {
        let how = match (self.status, self.signal) {
            (Some(code), _) => format!("exited with status {code}"),
            (None, Some(sig)) => format!("killed by signal {sig}"),
            (None, None) => "ended (status unknown)".to_string(),
        };
        if self.requested {
            format!("{how}, as requested")
        } else {
            how
        }
    }
}

/// Called once per run, from the run's waiter thread, after the run has left the supervisor:
/// `(key, how it ended)`. It may take other locks and call the supervisor.
pub type ExitHook = Arc<dyn Fn(&str, &ExitInfo) + Send + Sync>;

/// The runner's command line, program first: the default qemu runner, or the `vm.runner`
/// template with its placeholders filled in.
///
/// Template: split into words by POSIX shell quoting (never run through a shell); a word that is
/// exactly `{data}` becomes the data disks' paths, one argument each (none if there are none);
/// `{name}` and `{os}` are replaced wherever they appear in a word.
pub fn command_line(spec: &RunnerSpec) -> Result<Vec<String>> {
    match &spec.template {
        Some(template) => template_command_line(template, spec),
        None => qemu_command_line(spec),
    }
}

fn template_command_line(template: &str, spec: &RunnerSpec) -> Result<Vec<String>> {
    let words = shell_words::split(template)
        .map_err(|e| Error::invalid(format!("vm.runner '{template}' cannot be split: {e}")))?;
    let os = utf8(&spec.os_disk, "OS disk")?;
    let data = spec
        .data_disks
        .iter()
        .map(|d| utf8(d, "data disk"))
        .collect::<Result<Vec<_>>>()?;
    let mut argv = Vec::with_capacity(words.len() + data.len());
    for word in &words {
        if word == "{data}" {
            argv.extend(data.iter().map(|d| d.to_string()));
        } else {
            argv.push(substitute(word, &spec.name, os));
        }
    }
    if argv.is_empty() {
        return Err(Error::invalid(format!(
            "vm.runner '{template}' names no program to run"
        )));
    }
    Ok(argv)
}

/// Replaces `{name}` and `{os}` in one pass, so that a value containing the other
/// placeholder is taken literally.
fn substitute(word: &str, name: &str, os: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    while let Some(at) = rest.find('{') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("{name}") {
            out.push_str(name);
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{os}") {
            out.push_str(os);
            rest = after;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

fn qemu_command_line(spec: &RunnerSpec) -> Result<Vec<String>> {
    if spec.memory_mib == 0 || spec.cpus == 0 {
        return Err(Error::invalid(format!(
            "VM '{}' needs at least 1 MiB of memory and 1 CPU",
            spec.name
        )));
    }
    let accel = accel::resolve(spec.accel);
    let mut argv: Vec<String> = vec![
        QEMU.into(),
        "-name".into(),
        escape_commas(&spec.name),
        "-machine".into(),
        "q35".into(),
        "-accel".into(),
        accel.into(),
    ];
    if accel == "kvm" {
        // The guest sees the host's CPU features; TCG cannot offer them.
        argv.extend(["-cpu".into(), "host".into()]);
    }
    argv.extend([
        "-m".into(),
        spec.memory_mib.to_string(),
        "-smp".into(),
        spec.cpus.to_string(),
        "-nodefaults".into(),
        "-no-user-config".into(),
        "-display".into(),
        "none".into(),
        // `-serial file:PATH` would truncate the log and write at its own offset over what
        // our O_APPEND stderr put there; a file chardev with append=on shares the file.
        "-chardev".into(),
        format!(
            "file,id=console,path={},append=on",
            escape_commas(utf8(&spec.console_log, "console log")?)
        ),
        "-serial".into(),
        "chardev:console".into(),
        "-qmp".into(),
        format!(
            "unix:{},server=on,wait=off",
            escape_commas(utf8(&spec.qmp_socket, "QMP socket")?)
        ),
        "-no-reboot".into(),
    ]);
    let disks = std::iter::once((&spec.os_disk, "OS disk"))
        .chain(spec.data_disks.iter().map(|d| (d, "data disk")));
    for (i, (disk, what)) in disks.enumerate() {
        let caching = spec.caching.get(i).map_or("ReadWrite", String::as_str);
        argv.push("-drive".into());
        argv.push(format!(
            "file={},format=raw,if=virtio,cache={},aio=threads",
            escape_commas(utf8(disk, what)?),
            qemu_cache_mode(caching)
        ));
    }
    // These three are plain strings to qemu, not comma-separated options: no escaping.
    if let Some(kernel) = &spec.boot.kernel {
        argv.extend(["-kernel".into(), utf8(kernel, "boot kernel")?.into()]);
    }
    if let Some(initrd) = &spec.boot.initrd {
        argv.extend(["-initrd".into(), utf8(initrd, "boot initrd")?.into()]);
    }
    if let Some(append) = &spec.boot.append {
        argv.extend(["-append".into(), append.clone()]);
    }
    Ok(argv)
}

/// qemu's cache mode for an attachment's host caching. `None` is `cache=none`: qemu opens the
/// file with `O_DIRECT`, which the mount serves directly whatever its own `--caching`, so no
/// plaintext of that disk enters the host's page cache. `ReadOnly` is `cache=writethrough`:
/// reads may be cached, every write is made durable (`O_DSYNC`) before the guest sees it
/// complete. `ReadWrite` is `cache=writeback`: the host cache may hold writes until the guest
/// flushes.
fn qemu_cache_mode(caching: &str) -> &'static str {
    if caching.eq_ignore_ascii_case("None") {
        "none"
    } else if caching.eq_ignore_ascii_case("ReadOnly") {
        "writethrough"
    } else {
        "writeback"
    }
}

fn utf8<'a>(path: &'a Path, what: &str) -> Result<&'a str> {
    path.to_str().ok_or_else(|| {
        Error::invalid(format!(
            "the {what} path {} is not valid UTF-8",
            path.display()
        ))
    })
}

/// qemu's option syntax (`key=value,key=value`) takes a literal comma as `,,`.
fn escape_commas(s: &str) -> String {
    s.replace(',', ",,")
}

/// [`escape_commas`] for a path that need not be UTF-8.
pub(crate) fn escape_qemu_option(s: &OsStr) -> OsString {
    let mut out = Vec::with_capacity(s.len());
    for &b in s.as_bytes() {
        out.push(b);
        if b == b',' {
            out.push(b',');
        }
    }
    OsString::from_vec(out)
}

/// Starts, stops and reaps the runners of VMs, at most one per key.
///
/// Dropping it ends the launcher thread, and with it (`PR_SET_PDEATHSIG`) every runner it
/// started: call [`Supervisor::stop_all`] first for a clean shutdown.
pub struct Supervisor {
    inner: Arc<Inner>,
    /// Launch requests for the launcher thread, the only thread that forks runners.
    launcher: mpsc::Sender<Launch>,
}

struct Inner {
    runtime_dir: PathBuf,
    on_exit: ExitHook,
    /// The live runs by key. Taken briefly by every method, the launcher and the waiters;
    /// while it is held we only touch the map, pid files and send signals, never call the
    /// hook, talk QMP or wait for a process. A run leaves the map after its process exited and
    /// before it is reaped, which is what makes a signal to a pid found here safe.
    table: Mutex<Table>,
    /// Notified (after the fact, lock released) whenever a run leaves `table`.
    gone: Condvar,
}

#[derive(Default)]
struct Table {
    runs: HashMap<String, Run>,
    /// Numbers runs, so that a stop aimed at one run never reaches the next run of the key.
    next_id: u64,
}

struct Run {
    id: u64,
    pid: u32,
    /// The QMP socket of a default qemu runner.
    qmp: Option<PathBuf>,
    requested: bool,
}

/// One request to the launcher thread; the answer comes back on `reply`.
struct Launch {
    key: String,
    argv: Vec<String>,
    console_log: PathBuf,
    qmp: Option<PathBuf>,
    reply: mpsc::SyncSender<Result<u32>>,
}

impl Supervisor {
    /// `runtime_dir` holds one `KEY.pid` file per live runner; it is created if missing. After
    /// a crash, run [`kill_leftovers`] on it first.
    pub fn new(runtime_dir: PathBuf, on_exit: ExitHook) -> Result<Supervisor> {
        fsio::create_private_dir(&runtime_dir)?;
        let inner = Arc::new(Inner {
            runtime_dir,
            on_exit,
            table: Mutex::new(Table::default()),
            gone: Condvar::new(),
        });
        let (launcher, requests) = mpsc::channel::<Launch>();
        let launcher_inner = inner.clone();
        std::thread::Builder::new()
            .name("ssefs-vm-launcher".into())
            .spawn(move || {
                // Ends when the Supervisor (the only sender) is dropped.
                for request in requests {
                    let Launch {
                        key,
                        argv,
                        console_log,
                        qmp,
                        reply,
                    } = request;
                    let result = launcher_inner.launch(&key, &argv, &console_log, qmp);
                    let _ = reply.send(result);
                }
            })
            .ctx(|| "start the VM launcher thread")?;
        Ok(Supervisor { inner, launcher })
    }

    /// Launches the runner of VM `key`; [`Error::Busy`] if that key already runs. Returns the
    /// runner's pid.
    pub fn start(&self, key: &str, spec: &RunnerSpec) -> Result<u32> {
        // Checked early, before a possibly slow accelerator probe; the launcher checks again.
        if self.is_running(key) {
            return Err(already_running(key));
        }
        let argv = command_line(spec)?;
        let qmp = spec.template.is_none().then(|| spec.qmp_socket.clone());
        self.launch(key, argv, spec.console_log.clone(), qmp)
    }

    /// Hands a command line to the launcher thread and waits for its answer.
    fn launch(
        &self,
        key: &str,
        argv: Vec<String>,
        console_log: PathBuf,
        qmp: Option<PathBuf>,
    ) -> Result<u32> {
        if key.is_empty() {
            return Err(Error::invalid("a VM runner needs a non-empty key"));
        }
        let (reply, answer) = mpsc::sync_channel(1);
        let request = Launch {
            key: key.to_string(),
            argv,
            console_log,
            qmp,
            reply,
        };
        let lost = || Error::Busy("the VM launcher thread is gone".to_string());
        self.launcher.send(request).map_err(|_| lost())?;
        answer.recv().map_err(|_| lost())?
    }

    /// Whether the runner of `key` is alive (it has not been reaped).
    pub fn is_running(&self, key: &str) -> bool {
        self.inner.table.lock().runs.contains_key(key)
    }

    /// The keys of the live runners, sorted.
    pub fn running(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.inner.table.lock().runs.keys().cloned().collect();
        keys.sort();
        keys
    }

    /// The pid of the runner of `key`, if it is alive.
    pub fn pid(&self, key: &str) -> Option<u32> {
        self.inner.table.lock().runs.get(key).map(|r| r.pid)
    }

    /// Asks the runner to power off and returns at once: QMP `system_powerdown` for the default
    /// qemu runner (SIGTERM if QMP fails), SIGTERM for a template runner; a background thread
    /// sends SIGKILL if it is still alive `grace` after this call. No-op if not running.
    pub fn request_stop(&self, key: &str, grace: Duration) {
        let deadline = Instant::now() + grace;
        let (id, qmp) = {
            let mut table = self.inner.table.lock();
            let Some(run) = table.runs.get_mut(key) else {
                return;
            };
            run.requested = true;
            (run.id, run.qmp.clone())
        };
        let inner = self.inner.clone();
        let owned_key = key.to_string();
        let spawned = std::thread::Builder::new()
            .name("ssefs-vm-stop".into())
            .spawn(move || inner.stop(&owned_key, id, qmp, deadline));
        if let Err(e) = spawned {
            // Without a thread there is no grace period to enforce: the gentle signal only.
            log::warn(&format!(
                "vm {key}: cannot start a stop thread ({e}); sending SIGTERM"
            ));
            self.inner.signal(key, Some(id), libc::SIGTERM);
        }
    }

    /// Kills the runner at once (SIGKILL). No-op if not running.
    pub fn kill(&self, key: &str) {
        if self.inner.signal(key, None, libc::SIGKILL) {
            log::info(&format!("vm {key}: runner killed"));
        }
    }

    /// Waits until the runner of `key` is gone, at most `limit`; true if gone.
    pub fn wait_gone(&self, key: &str, limit: Duration) -> bool {
        self.inner.wait_gone(key, None, Instant::now() + limit)
    }

    /// Stops every runner ([`Supervisor::request_stop`] with `grace`) and waits until all are
    /// gone (giving up on a runner that SIGKILL does not end within a few seconds).
    ///
    /// Used on unmount: the disks must still be served meanwhile, or a guest flushing its
    /// disks would hang on them.
    pub fn stop_all(&self, grace: Duration) {
        let runs: Vec<(String, u64)> = {
            let table = self.inner.table.lock();
            table.runs.iter().map(|(k, r)| (k.clone(), r.id)).collect()
        };
        for (key, _) in &runs {
            self.request_stop(key, grace);
        }
        let deadline = Instant::now() + grace + REAP_PATIENCE;
        for (key, id) in &runs {
            if !self.inner.wait_gone(key, Some(*id), deadline) {
                log::warn(&format!("vm {key}: runner still alive after SIGKILL"));
            }
        }
    }
}

impl Inner {
    /// Forks one runner (on the launcher thread), records it and starts its waiter.
    fn launch(
        self: &Arc<Self>,
        key: &str,
        argv: &[String],
        console_log: &Path,
        qmp: Option<PathBuf>,
    ) -> Result<u32> {
        // Only this thread inserts runs, so the answer holds until the insert below.
        if self.table.lock().runs.contains_key(key) {
            return Err(already_running(key));
        }
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| Error::invalid(format!("vm {key}: empty runner command line")))?;
        let console = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(console_log)
            .ctx(|| format!("open console log {}", console_log.display()))?;
        let console_too = console
            .try_clone()
            .ctx(|| format!("dup console log {}", console_log.display()))?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(console)
            .stderr(console_too);
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: the closure runs between fork and exec and only makes async-signal-safe
        // system calls (setsid, prctl, getppid); it allocates nothing.
        unsafe {
            cmd.pre_exec(move || child_setup(parent));
        }
        let mut child = cmd
            .spawn()
            .ctx(|| format!("vm {key}: start runner {program}"))?;
        let pid = child.id();
        let pid_file = pid_file(&self.runtime_dir, key);
        if let Err(e) = record_pid(&pid_file, pid) {
            // Unrecorded, it could outlive a crashed daemon unnoticed: do not run it at all.
            signal_group(pid, libc::SIGKILL);
            let _ = child.wait();
            let _ = fs::remove_file(&pid_file);
            return Err(e);
        }
        let id = {
            let mut table = self.table.lock();
            table.next_id += 1;
            let id = table.next_id;
            let run = Run {
                id,
                pid,
                qmp,
                requested: false,
            };
            table.runs.insert(key.to_string(), run);
            id
        };
        let waiter = self.clone();
        let waiter_key = key.to_string();
        let spawned = std::thread::Builder::new()
            .name("ssefs-vm-waiter".into())
            .spawn(move || waiter.reap(&waiter_key, id, child));
        if let Err(e) = spawned {
            // `child` went down with the closure: kill and reap by pid, then forget the run.
            self.signal(key, Some(id), libc::SIGKILL);
            // SAFETY: waitpid on our own child, which nobody else reaps.
            unsafe { libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), 0) };
            self.forget(key, id);
            return Err(Error::io(format!("vm {key}: start a waiter thread"), e));
        }
        log::info(&format!(
            "vm {key}: runner started, pid {pid}: {}",
            argv.join(" ")
        ));
        Ok(pid)
    }

    /// The waiter thread of one run: waits for the exit, forgets the run, reaps, reports.
    fn reap(&self, key: &str, id: u64, mut child: Child) {
        let pid = child.id();
        wait_exited_unreaped(pid);
        let requested = self.forget(key, id).unwrap_or(false);
        // The zombie goes at once: this does not block.
        let info = match child.wait() {
            Ok(status) => ExitInfo {
                status: status.code(),
                signal: status.signal(),
                requested,
            },
            Err(e) => {
                log::warn(&format!("vm {key}: cannot reap runner {pid}: {e}"));
                ExitInfo {
                    status: None,
                    signal: None,
                    requested,
                }
            }
        };
        log::info(&format!("vm {key}: runner {pid} {}", info.describe()));
        (self.on_exit)(key, &info);
    }

    /// Removes run `id` of `key` and its pid file, and wakes the waiters of
    /// [`Supervisor::wait_gone`]. Returns whether a stop had been requested, or `None` if the
    /// run was not there.
    fn forget(&self, key: &str, id: u64) -> Option<bool> {
        let requested = {
            let mut table = self.table.lock();
            if table.runs.get(key).is_none_or(|r| r.id != id) {
                return None;
            }
            let run = table.runs.remove(key)?;
            // Under the lock: the next run of this key writes the same file once it sees the
            // key free.
            let path = pid_file(&self.runtime_dir, key);
            if let Err(e) = fs::remove_file(&path) {
                log::warn(&format!("remove {}: {e}", path.display()));
            }
            run.requested
        };
        self.gone.notify_all();
        Some(requested)
    }

    /// Sends `sig` to the runner of `key` (only to run `id` if given) and marks the run as
    /// stopped on request. False if there was no such run.
    fn signal(&self, key: &str, id: Option<u64>, sig: libc::c_int) -> bool {
        let mut table = self.table.lock();
        match table.runs.get_mut(key) {
            Some(run) if id.is_none_or(|id| id == run.id) => {
                run.requested = true;
                signal_group(run.pid, sig);
                true
            }
            _ => false,
        }
    }

    /// The stop thread of one run: ask politely, then SIGKILL once `deadline` has passed.
    fn stop(&self, key: &str, id: u64, qmp: Option<PathBuf>, deadline: Instant) {
        let asked = match qmp {
            Some(socket) => {
                // Never past the grace period: a hung QMP is no reason to wait longer.
                let left = deadline.saturating_duration_since(Instant::now());
                match qmp::system_powerdown(&socket, qmp::TIMEOUT.min(left)) {
                    Ok(()) => true,
                    Err(e) => {
                        log::warn(&format!("vm {key}: QMP powerdown failed ({e}); SIGTERM"));
                        false
                    }
                }
            }
            None => false,
        };
        if !asked {
            self.signal(key, Some(id), libc::SIGTERM);
        }
        if !self.wait_gone(key, Some(id), deadline) && self.signal(key, Some(id), libc::SIGKILL) {
            log::warn(&format!(
                "vm {key}: runner did not stop within its grace period: killed"
            ));
        }
    }

    /// Waits until `key` (run `id` if given) has left the table, at most until `deadline`.
    fn wait_gone(&self, key: &str, id: Option<u64>, deadline: Instant) -> bool {
        let present = |table: &Table| {
            table
                .runs
                .get(key)
                .is_some_and(|r| id.is_none_or(|id| id == r.id))
        };
        let mut table = self.table.lock();
        while present(&table) {
            if self.gone.wait_until(&mut table, deadline).timed_out() {
                return !present(&table);
            }
        }
        true
    }
}

fn already_running(key: &str) -> Error {
    Error::Busy(format!("the runner of VM '{key}' is already running"))
}

/// In the child, between fork and exec: no blocked signals, its own session, and death with
/// its parent thread. `parent` is the daemon's pid, as seen before the fork.
pub(super) fn child_setup(parent: libc::pid_t) -> io::Result<()> {
    // The daemon blocks SIGTERM, SIGINT and SIGHUP in every thread but its signal thread, and
    // a signal mask survives fork and exec (std's Command does not reset it): a runner would
    // start deaf to the SIGTERM of a stop and always wait out the grace period to be killed.
    // SAFETY: sigemptyset on a local, then sigprocmask with it; both async-signal-safe.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        if libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut()) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: plain system calls without pointers; async-signal-safe.
    unsafe {
        // Its own session: a Ctrl-C or hang-up of the daemon's terminal does not reach it.
        if libc::setsid() < 0 {
            return Err(io::Error::last_os_error());
        }
        // SIGKILL when the launcher thread (that is, the daemon) goes.
        if libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        ) < 0
        {
            return Err(io::Error::last_os_error());
        }
        // The daemon may have died before prctl: then the death signal will never come.
        if libc::getppid() != parent {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
    }
    Ok(())
}

/// Blocks until `pid` (our child) has exited, without reaping it.
fn wait_exited_unreaped(pid: u32) {
    loop {
        // SAFETY: siginfo_t is plain data; waitid writes into it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above; WNOWAIT leaves the zombie for Child::wait.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if r == 0 {
            return;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            log::warn(&format!("waitid for runner {pid}: {e}"));
            return;
        }
    }
}

/// Signals the process group that `pid` leads (runners are session leaders), or the process
/// alone if it leads none. True if the signal was delivered.
fn signal_group(pid: u32, sig: libc::c_int) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 1 {
        return false;
    }
    // SAFETY: kill(2) takes no pointers.
    unsafe { libc::kill(-pid, sig) == 0 || libc::kill(pid, sig) == 0 }
}

/// `DIR/KEY.EXT`: a runtime file of VM `key` (pid file, console log, QMP socket), the key
/// escaped to a file name: bytes other than ASCII letters, digits, `-`, `_` and `@` become
/// `%XX` (so no key can make `..`, a hidden file or a temporary).
pub fn runtime_file(dir: &Path, key: &str, ext: &str) -> PathBuf {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut name = String::with_capacity(key.len() + ext.len() + 1);
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'@') {
            name.push(char::from(b));
        } else {
            name.push('%');
            name.push(char::from(HEX[usize::from(b >> 4)]));
            name.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    name.push('.');
    name.push_str(ext);
    dir.join(name)
}

fn pid_file(dir: &Path, key: &str) -> PathBuf {
    runtime_file(dir, key, "pid")
}

/// Writes `PID START_TIME\n` atomically.
fn record_pid(path: &Path, pid: u32) -> Result<()> {
    let start = process_start_time(pid)?;
    fsio::write_atomic(path, format!("{pid} {start}\n").as_bytes(), 0o600)
}

/// Field 22 of `/proc/PID/stat`: when the process started, in clock ticks since boot. With the
/// pid it identifies a process for good (pids are recycled, start times do not repeat).
fn process_start_time(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let stat = fs::read_to_string(&path).ctx(|| format!("read {path}"))?;
    // Field 2, the command name, may hold spaces and parentheses: count from its last ')'.
    // Fields 3.. follow, so field 22 is the 20th after it.
    stat.rfind(')')
        .and_then(|at| stat[at + 1..].split_whitespace().nth(19))
        .and_then(|field| field.parse().ok())
        .ok_or_else(|| {
            let e = io::Error::new(io::ErrorKind::InvalidData, "no start time field");
            Error::io(format!("parse {path}"), e)
        })
}

fn read_pid_file(path: &Path) -> Option<(u32, u64)> {
    let text = fs::read_to_string(path).ok()?;
    let mut fields = text.split_whitespace();
    let pid = fields.next()?.parse().ok()?;
    let start = fields.next()?.parse().ok()?;
    fields.next().is_none().then_some((pid, start))
}

/// Kills runners left by a daemon that died (kill -9): for each `KEY.pid` in `runtime_dir`,
/// SIGKILL the process (and its group) only if it still exists with the recorded start time;
/// remove the files (and stray temporaries). Returns how many it killed.
pub fn kill_leftovers(runtime_dir: &Path) -> Result<usize> {
    let entries = match fs::read_dir(runtime_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io(format!("list {}", runtime_dir.display()), e)),
    };
    let mut killed = 0;
    for entry in entries {
        let entry = entry.ctx(|| format!("list {}", runtime_dir.display()))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(fsio::TMP_PREFIX) {
            let _ = fs::remove_file(&path);
            continue;
        }
        if !name.ends_with(".pid") {
            continue;
        }
        match read_pid_file(&path) {
            Some((pid, start)) => {
                let same = process_start_time(pid).is_ok_and(|now| now == start);
                if same && pid != std::process::id() && signal_group(pid, libc::SIGKILL) {
                    log::info(&format!("killed runner {pid} left behind ({name})"));
                    killed += 1;
                }
            }
            None => log::warn(&format!("{}: not a pid file; removed", path.display())),
        }
        if let Err(e) = fs::remove_file(&path) {
            log::warn(&format!("remove {}: {e}", path.display()));
        }
    }
    Ok(killed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixListener;

    /// Generous bound for anything that should take milliseconds.
    const PATIENCE: Duration = Duration::from_secs(20);

    fn spec(dir: &Path, template: Option<&str>) -> RunnerSpec {
        RunnerSpec {
            name: "vm1".into(),
            os_disk: dir.join("os.img"),
            data_disks: Vec::new(),
            caching: Vec::new(),
            boot: Boot::default(),
            memory_mib: 64,
            cpus: 1,
            console_log: dir.join("console.log"),
            qmp_socket: dir.join("qmp.sock"),
            template: template.map(str::to_string),
            accel: Accel::Tcg,
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn template_splits_like_a_shell_and_fills_placeholders() {
        let mut s = spec(Path::new("/d"), None);
        s.template = Some(r#"run "a b" 'c {name}' --os={os} x{data} {data} --end"#.into());
        assert_eq!(
            command_line(&s).expect("line"),
            strings(&["run", "a b", "c vm1", "--os=/d/os.img", "x{data}", "--end"])
        );
        s.data_disks = vec!["/d/lun0".into(), "/d/lun 1".into()];
        assert_eq!(
            command_line(&s).expect("line"),
            strings(&[
                "run",
                "a b",
                "c vm1",
                "--os=/d/os.img",
                "x{data}",
                "/d/lun0",
                "/d/lun 1",
                "--end"
            ])
        );
    }

    #[test]
    fn template_placeholders_are_replaced_once() {
        let mut s = spec(Path::new("/d"), Some("r {name}{os}{x}"));
        s.name = "{os}".into();
        assert_eq!(
            command_line(&s).expect("line"),
            strings(&["r", "{os}/d/os.img{x}"])
        );
    }

    #[test]
    fn bad_templates_are_invalid_arguments() {
        for t in ["", "   ", "run 'unclosed", "{data}"] {
            let s = spec(Path::new("/d"), Some(t));
            assert!(
                matches!(command_line(&s), Err(Error::InvalidArgument(_))),
                "{t:?}"
            );
        }
    }

    #[test]
    fn qemu_command_line_in_full() {
        let mut s = spec(Path::new("/d"), None);
        s.data_disks = vec!["/d/lun,0".into(), "/d/lun1".into()];
        let drive = |p: &str| format!("file={p},format=raw,if=virtio,cache=writeback,aio=threads");
        let mut want = strings(&[
            "qemu-system-x86_64",
            "-name",
            "vm1",
            "-machine",
            "q35",
            "-accel",
            "tcg",
            "-m",
            "64",
            "-smp",
            "1",
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-chardev",
            "file,id=console,path=/d/console.log,append=on",
            "-serial",
            "chardev:console",
            "-qmp",
            "unix:/d/qmp.sock,server=on,wait=off",
            "-no-reboot",
            "-drive",
        ]);
        want.push(drive("/d/os.img"));
        want.push("-drive".into());
        want.push(drive("/d/lun,,0"));
        want.push("-drive".into());
        want.push(drive("/d/lun1"));
        assert_eq!(command_line(&s).expect("line"), want);
    }

    #[test]
    fn each_attachment_gets_its_own_qemu_cache_mode() {
        let mut s = spec(Path::new("/d"), None);
        s.data_disks = vec!["/d/lun0".into(), "/d/lun1".into()];
        s.caching = strings(&["ReadWrite", "None", "ReadOnly"]);
        let argv = command_line(&s).expect("line");
        let drives: Vec<&String> = argv.iter().filter(|a| a.starts_with("file=")).collect();
        assert_eq!(drives.len(), 3);
        assert!(drives[0].contains("/d/os.img,format=raw,if=virtio,cache=writeback,"));
        assert!(drives[1].contains("/d/lun0,format=raw,if=virtio,cache=none,"));
        assert!(drives[2].contains("/d/lun1,format=raw,if=virtio,cache=writethrough,"));
    }

    #[test]
    fn qemu_boot_options_kvm_and_escaping() {
        let mut s = spec(Path::new("/d,x"), None);
        s.name = "a,b".into();
        s.accel = Accel::Kvm;
        s.boot = Boot {
            kernel: Some("/k/vmlinuz".into()),
            initrd: Some("/k/initrd".into()),
            append: Some("console=ttyS0 root=/dev/vda".into()),
        };
        let argv = command_line(&s).expect("line");
        let at = |w: &str| argv.iter().position(|a| a == w);
        let after = |w: &str| at(w).and_then(|i| argv.get(i + 1)).map(String::as_str);
        assert_eq!(after("-name"), Some("a,,b"));
        assert_eq!(after("-accel"), Some("kvm"));
        assert_eq!(after("-cpu"), Some("host"));
        assert_eq!(after("-kernel"), Some("/k/vmlinuz"));
        assert_eq!(after("-initrd"), Some("/k/initrd"));
        assert_eq!(after("-append"), Some("console=ttyS0 root=/dev/vda"));
        assert_eq!(
            after("-qmp"),
            Some("unix:/d,,x/qmp.sock,server=on,wait=off")
        );
        assert!(argv.contains(
            &"file=/d,,x/os.img,format=raw,if=virtio,cache=writeback,aio=threads".to_string()
        ));
        // TCG gets no -cpu host.
        s.accel = Accel::Tcg;
        assert!(
            !command_line(&s)
                .expect("line")
                .contains(&"-cpu".to_string())
        );
        s.memory_mib = 0;
        assert!(matches!(command_line(&s), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn pid_file_names_are_escaped() {
        let d = Path::new("/r");
        assert_eq!(pid_file(d, "vm1@rg"), Path::new("/r/vm1@rg.pid"));
        assert_eq!(pid_file(d, "../x y"), Path::new("/r/%2E%2E%2Fx%20y.pid"));
        assert_eq!(pid_file(d, ".tmp-a"), Path::new("/r/%2Etmp-a.pid"));
    }

    /// A supervisor in a fresh directory whose exit reports arrive on a channel.
    struct Harness {
        dir: tempfile::TempDir,
        sup: Supervisor,
        exits: mpsc::Receiver<(String, ExitInfo)>,
    }

    impl Harness {
        fn new() -> Harness {
            let dir = tempfile::tempdir().expect("tempdir");
            let (tx, exits) = mpsc::channel();
            let tx = Mutex::new(tx);
            let hook: ExitHook = Arc::new(move |key: &str, info: &ExitInfo| {
                let _ = tx.lock().send((key.to_string(), info.clone()));
            });
            let sup = Supervisor::new(dir.path().join("run"), hook).expect("supervisor");
            Harness { dir, sup, exits }
        }

        /// A template runner: `sh SCRIPT` (run by sh rather than exec'd, so that a
        /// concurrent fork in another test cannot make it "text file busy").
        fn script_spec(&self, name: &str, body: &str) -> RunnerSpec {
            let path = self.dir.path().join(format!("{name}.sh"));
            fs::write(&path, body).expect("write script");
            let mut s = spec(self.dir.path(), None);
            s.console_log = self.dir.path().join(format!("{name}.log"));
            s.template = Some(format!("sh {}", path.display()));
            s
        }

        fn exit(&self) -> (String, ExitInfo) {
            self.exits.recv_timeout(PATIENCE).expect("exit report")
        }

        fn runtime_dir(&self) -> PathBuf {
            self.dir.path().join("run")
        }
    }

    /// Waits until the runner has written `ready` to its console (its traps are set).
    fn wait_ready(log: &Path) {
        let deadline = Instant::now() + PATIENCE;
        while !fs::read_to_string(log).is_ok_and(|s| s.contains("ready")) {
            assert!(Instant::now() < deadline, "runner never got ready");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    const FOREVER: &str = "while :; do sleep 0.05; done\n";

    #[test]
    fn a_runner_that_exits_by_itself_is_reported_unrequested() {
        let h = Harness::new();
        let s = h.script_spec("r", "echo hello; echo oops >&2; exit 3\n");
        let pid = h.sup.start("vm1@rg", &s).expect("start");
        assert!(pid > 1);
        let (key, info) = h.exit();
        assert_eq!(key, "vm1@rg");
        assert_eq!(info.status, Some(3));
        assert_eq!(info.signal, None);
        assert!(!info.requested);
        assert!(!h.sup.is_running("vm1@rg"));
        assert!(h.sup.wait_gone("vm1@rg", PATIENCE));
        assert!(!pid_file(&h.runtime_dir(), "vm1@rg").exists());
        let console = fs::read_to_string(&s.console_log).expect("console");
        assert!(
            console.contains("hello") && console.contains("oops"),
            "{console}"
        );
    }

    #[test]
    fn a_runner_that_obeys_sigterm_stops_on_request() {
        let h = Harness::new();
        let body = format!("trap 'exit 7' TERM\necho ready\n{FOREVER}");
        let s = h.script_spec("r", &body);
        let pid = h.sup.start("vm1@rg", &s).expect("start");
        assert_eq!(h.sup.pid("vm1@rg"), Some(pid));
        assert_eq!(h.sup.running(), ["vm1@rg"]);
        let recorded = fs::read_to_string(pid_file(&h.runtime_dir(), "vm1@rg")).expect("pid file");
        assert_eq!(
            read_pid_file(&pid_file(&h.runtime_dir(), "vm1@rg")).map(|(p, _)| p),
            Some(pid),
            "{recorded}"
        );
        wait_ready(&s.console_log);
        h.sup.request_stop("vm1@rg", PATIENCE);
        assert!(h.sup.wait_gone("vm1@rg", PATIENCE));
        let (_, info) = h.exit();
        assert!(info.requested);
        assert_eq!(info.status, Some(7));
    }

    /// The runner's blocked-signal mask, from /proc (hexadecimal `SigBlk`).
    fn blocked_signals(pid: u32) -> String {
        let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("SigBlk:"))
            .expect("SigBlk")
            .trim()
            .to_string()
    }

    #[test]
    fn a_runner_of_a_daemon_that_blocks_stop_signals_still_obeys_sigterm() {
        // Run on a thread of its own: the blocked mask must not leak into other tests.
        std::thread::spawn(|| {
            // As the daemon does in every thread but its signal thread.
            crate::daemon::block_stop_signals();
            let h = Harness::new();
            // The program itself, not a script: a shell may clear the mask on its own.
            let mut s = spec(h.dir.path(), Some("sleep 1000"));
            s.console_log = h.dir.path().join("r.log");
            let pid = h.sup.start("vm1@rg", &s).expect("start");
            assert_eq!(blocked_signals(pid), "0000000000000000");
            h.sup.request_stop("vm1@rg", PATIENCE);
            assert!(h.sup.wait_gone("vm1@rg", PATIENCE));
            let (_, info) = h.exit();
            assert_eq!(
                info.signal,
                Some(libc::SIGTERM),
                "stopped by SIGTERM, not by the kill after the grace period"
            );
        })
        .join()
        .expect("the test thread");
    }

    #[test]
    fn a_runner_that_ignores_sigterm_is_killed_after_the_grace_period() {
        let h = Harness::new();
        let body = format!("trap '' TERM\necho ready\n{FOREVER}");
        let s = h.script_spec("r", &body);
        h.sup.start("vm1@rg", &s).expect("start");
        wait_ready(&s.console_log);
        h.sup.request_stop("vm1@rg", Duration::from_millis(300));
        assert!(h.sup.wait_gone("vm1@rg", PATIENCE));
        let (_, info) = h.exit();
        assert!(info.requested);
        assert_eq!(info.signal, Some(libc::SIGKILL));
    }

    #[test]
    fn a_key_runs_once_and_kill_is_immediate() {
        let h = Harness::new();
        let s = h.script_spec("r", FOREVER);
        h.sup.start("vm1@rg", &s).expect("start");
        assert!(matches!(h.sup.start("vm1@rg", &s), Err(Error::Busy(_))));
        // Another key is independent.
        h.sup.start("vm2@rg", &s).expect("start vm2");
        h.sup.kill("vm1@rg");
        assert!(h.sup.wait_gone("vm1@rg", PATIENCE));
        let (key, info) = h.exit();
        assert_eq!(key, "vm1@rg");
        assert!(info.requested);
        assert_eq!(info.signal, Some(libc::SIGKILL));
        assert_eq!(h.sup.running(), ["vm2@rg"]);
        // The key is free again.
        h.sup.start("vm1@rg", &s).expect("restart");
        h.sup.stop_all(Duration::from_millis(300));
        assert!(h.sup.running().is_empty());
        let mut keys = vec![h.exit().0, h.exit().0];
        keys.sort();
        assert_eq!(keys, ["vm1@rg", "vm2@rg"]);
        // Stopping what is not running is harmless.
        h.sup.request_stop("vm1@rg", Duration::ZERO);
        h.sup.kill("vm1@rg");
        assert!(h.sup.wait_gone("nothing", Duration::ZERO));
    }

    #[test]
    fn a_runner_that_cannot_start_leaves_nothing_behind() {
        let h = Harness::new();
        let mut s = h.script_spec("r", "");
        s.template = Some(format!("{}/no-such-runner", h.dir.path().display()));
        assert!(matches!(h.sup.start("vm1@rg", &s), Err(Error::Io { .. })));
        assert!(!h.sup.is_running("vm1@rg"));
        assert!(!pid_file(&h.runtime_dir(), "vm1@rg").exists());
        assert!(h.exits.try_recv().is_err());
    }

    #[test]
    fn dropping_the_supervisor_kills_its_runners() {
        let h = Harness::new();
        let s = h.script_spec("r", FOREVER);
        h.sup.start("vm1@rg", &s).expect("start");
        let Harness {
            dir: _dir,
            sup,
            exits,
        } = h;
        drop(sup);
        let (_, info) = exits.recv_timeout(PATIENCE).expect("exit report");
        assert_eq!(info.signal, Some(libc::SIGKILL));
        assert!(!info.requested);
    }

    #[test]
    fn kill_leftovers_kills_recorded_runners_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut live = Command::new("sleep").arg("1000").spawn().expect("sleep");
        let mut other = Command::new("sleep").arg("1000").spawn().expect("sleep");
        record_pid(&pid_file(dir.path(), "vm1@rg"), live.id()).expect("record");
        // A stale record: the pid now belongs to a process that started at another time.
        let start = process_start_time(other.id()).expect("start time");
        let stale = format!("{} {}\n", other.id(), start + 1);
        fs::write(pid_file(dir.path(), "vm2@rg"), stale).expect("write");
        fs::write(dir.path().join("junk.pid"), "not a pid file").expect("write");
        assert_eq!(kill_leftovers(dir.path()).expect("kill"), 1);
        assert_eq!(live.wait().expect("wait").signal(), Some(libc::SIGKILL));
        assert_eq!(other.try_wait().expect("try_wait"), None);
        assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 0);
        let _ = other.kill();
        let _ = other.wait();
        assert_eq!(
            kill_leftovers(&dir.path().join("missing")).expect("none"),
            0
        );
    }

    #[test]
    fn the_default_runner_is_stopped_through_qmp() {
        let h = Harness::new();
        let off = h.dir.path().join("off");
        // Deaf to SIGTERM: only the fake QMP server's "power button" ends it cleanly.
        let body = format!(
            "trap '' TERM\nwhile [ ! -e {} ]; do sleep 0.05; done\nexit 0\n",
            off.display()
        );
        let s = h.script_spec("r", &body);
        let sock = h.dir.path().join("qmp.sock");
        let listener = UnixListener::bind(&sock).expect("bind");
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            let mut w = stream.try_clone().expect("clone");
            let mut r = BufReader::new(stream);
            w.write_all(b"{\"QMP\": {}}\r\n").expect("greet");
            let mut seen = Vec::new();
            for _ in 0..2 {
                let mut line = String::new();
                r.read_line(&mut line).expect("read");
                let v: serde_json::Value = serde_json::from_str(&line).expect("json");
                let cmd = v["execute"].as_str().unwrap_or("?").to_string();
                if cmd == "system_powerdown" {
                    fs::write(&off, "").expect("press the button");
                }
                seen.push(cmd);
                w.write_all(b"{\"return\": {}}\r\n").expect("reply");
            }
            seen
        });
        let argv = command_line(&s).expect("line");
        h.sup
            .launch("vm1@rg", argv, s.console_log.clone(), Some(sock))
            .expect("launch");
        h.sup.request_stop("vm1@rg", PATIENCE);
        let (_, info) = h.exit();
        assert!(info.requested);
        assert_eq!(info.status, Some(0));
        assert_eq!(
            server.join().expect("server"),
            ["qmp_capabilities", "system_powerdown"]
        );
    }

    /// The real qemu accepts our command line (skipped where qemu is not installed).
    #[test]
    fn qemu_starts_with_our_command_line() {
        if Command::new(QEMU).arg("--version").output().is_err() {
            eprintln!("{QEMU} not installed: skipped");
            return;
        }
        let h = Harness::new();
        // Commas everywhere: qemu must get them escaped.
        let dir = h.dir.path().join("a,b");
        fs::create_dir(&dir).expect("mkdir");
        let mut s = spec(&dir, None);
        fs::write(&s.os_disk, vec![0u8; 1 << 20]).expect("os disk");
        let data = dir.join("lun,0");
        fs::write(&data, vec![0u8; 1 << 20]).expect("data disk");
        s.data_disks = vec![data];
        h.sup.start("vm1@rg", &s).expect("start");
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Ok((_, info)) = h.exits.try_recv() {
                let console = fs::read_to_string(&s.console_log).unwrap_or_default();
                panic!("qemu ended early ({info:?}): {console}");
            }
            let asked = qmp::Client::connect(&s.qmp_socket, qmp::TIMEOUT)
                .and_then(|mut c| c.execute("query-status"));
            match asked {
                Ok(status) => break status,
                Err(e) if Instant::now() > deadline => panic!("no QMP: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        assert!(status.get("status").is_some(), "{status}");
        // Without an OS the guest ignores the power button: the grace period ends it.
        h.sup.request_stop("vm1@rg", Duration::from_millis(500));
        assert!(h.sup.wait_gone("vm1@rg", PATIENCE));
        assert!(h.exit().1.requested);
    }
}
