//! VM runners: the command that runs a VM (qemu, or a configured template) and the
//! [`Supervisor`] that launches runners, asks them to power off, kills them after a grace
//! period, reaps them and reports each exit.
//!
//! Runners are spawned from one long-lived launcher thread, because `PR_SET_PDEATHSIG` (set
//! in the child so that no runner outlives a daemon that dies) fires when the *thread* that
//! forked exits, and callers are short-lived socket threads. Each live runner has a pid file
//! in the runtime directory (pid and process start time), so that a daemon started after a
//! `kill -9` can kill what its predecessor left ([`kill_leftovers`]).

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::accel::{self, Accel};
use super::qmp;
use crate::error::{Error, IoContext, Result};
use crate::log;

/// Boot options of the default qemu runner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Boot {
    pub kernel: Option<PathBuf>,
    pub initrd: Option<PathBuf>,
    pub append: Option<String>,
}

/// Everything needed to launch one VM.
#[derive(Debug, Clone)]
pub struct RunnerSpec {
    /// The VM's name: qemu's `-name`, `{name}` in a template.
    pub name: String,
    /// The OS disk's plaintext file in the mount: `{os}`.
    pub os_disk: PathBuf,
    /// The data disks' files in LUN order: `{data}` (one argument each).
    pub data_disks: Vec<PathBuf>,
    pub boot: Boot,
    pub memory_mib: u32,
    pub cpus: u32,
    /// The guest's console (qemu's serial port) and the runner's own output.
    pub console_log: PathBuf,
    /// qemu's QMP socket.
    pub qmp_socket: PathBuf,
    /// The `vm.runner` template; `None` runs qemu.
    pub template: Option<String>,
    pub accel: Accel,
}

/// How a runner ended.
#[derive(Debug, Clone)]
pub struct ExitInfo {
    pub status: Option<i32>,
    pub signal: Option<i32>,
    /// Whether a stop or kill was asked for this run.
    pub requested: bool,
}

/// Called (with no supervisor lock held) when a runner has exited.
pub type ExitHook = Arc<dyn Fn(&str, &ExitInfo) + Send + Sync>;

/// Splits a command template into words like a shell does (spaces, '…', "…", backslash),
/// without expanding anything.
pub fn split_words(s: &str) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(Error::invalid("unterminated ' in the runner command")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => {
                                return Err(Error::invalid(
                                    "unterminated \" in the runner command",
                                ));
                            }
                        },
                        Some(c) => word.push(c),
                        None => {
                            return Err(Error::invalid("unterminated \" in the runner command"));
                        }
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err(Error::invalid("a trailing \\ in the runner command")),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// qemu's `-drive file=` value: commas are doubled.
fn drive(path: &Path) -> String {
    format!(
        "file={},format=raw,if=virtio,cache=writeback,aio=threads",
        path.display().to_string().replace(',', ",,")
    )
}

/// The runner's argv (program first).
pub fn command_line(spec: &RunnerSpec) -> Result<Vec<String>> {
    if let Some(template) = &spec.template {
        let words = split_words(template)?;
        if words.is_empty() {
            return Err(Error::invalid("the runner command (vm.runner) is empty"));
        }
        let os = spec.os_disk.display().to_string();
        let mut argv = Vec::new();
        for w in words {
            if w == "{data}" {
                argv.extend(spec.data_disks.iter().map(|p| p.display().to_string()));
            } else {
                argv.push(w.replace("{name}", &spec.name).replace("{os}", &os));
            }
        }
        return Ok(argv);
    }
    let accel = accel::resolve(spec.accel);
    let mut argv: Vec<String> = [
        "qemu-system-x86_64",
        "-name",
        &spec.name,
        "-machine",
        "q35",
        "-accel",
        accel,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if accel == "kvm" {
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
        "-serial".into(),
        format!("file:{}", spec.console_log.display()),
        "-qmp".into(),
        format!("unix:{},server=on,wait=off", spec.qmp_socket.display()),
        "-no-reboot".into(),
    ]);
    for disk in std::iter::once(&spec.os_disk).chain(&spec.data_disks) {
        argv.extend(["-drive".into(), drive(disk)]);
    }
    if let Some(k) = &spec.boot.kernel {
        argv.extend(["-kernel".into(), k.display().to_string()]);
    }
    if let Some(i) = &spec.boot.initrd {
        argv.extend(["-initrd".into(), i.display().to_string()]);
    }
    if let Some(a) = &spec.boot.append {
        argv.extend(["-append".into(), a.clone()]);
    }
    Ok(argv)
}

/// A live runner.
struct Running {
    pid: u32,
    /// qemu's QMP socket (none for a template runner).
    qmp: Option<PathBuf>,
    requested: bool,
    run: u64,
}

struct Table {
    runners: Mutex<HashMap<String, Running>>,
    changed: Condvar,
}

struct Launch {
    argv: Vec<String>,
    console: PathBuf,
    reply: mpsc::Sender<Result<Child>>,
}

/// Launches, stops and reaps VM runners.
pub struct Supervisor {
    runtime: PathBuf,
    table: Arc<Table>,
    launcher: Mutex<mpsc::Sender<Launch>>,
    on_exit: ExitHook,
    next_run: Mutex<u64>,
}

/// A file name for a key (letters, digits and `_ - . @` kept).
fn stem(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-.@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Field 22 of /proc/PID/stat: the process's start time, which tells a pid reused by another
/// process from ours.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn spawn(argv: &[String], console: &Path) -> Result<Child> {
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(console)
        .ctx(|| format!("open {}", console.display()))?;
    let err = out.try_clone().ctx(|| "console log")?;
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| Error::invalid("empty runner command"))?;
    // SAFETY: getpid cannot fail.
    let parent = unsafe { libc::getpid() };
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).stdout(out).stderr(err);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The daemon died before prctl took effect: do not outlive it.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    cmd.spawn().ctx(|| format!("start the VM runner {program}"))
}

impl Supervisor {
    /// Starts the launcher thread.
    pub fn new(runtime_dir: PathBuf, on_exit: ExitHook) -> Result<Supervisor> {
        let (tx, rx) = mpsc::channel::<Launch>();
        std::thread::Builder::new()
            .name("ssefs-vm-launcher".into())
            .spawn(move || {
                for launch in rx {
                    let _ = launch.reply.send(spawn(&launch.argv, &launch.console));
                }
            })
            .ctx(|| "start the VM launcher thread")?;
        Ok(Supervisor {
            runtime: runtime_dir,
            table: Arc::new(Table {
                runners: Mutex::new(HashMap::new()),
                changed: Condvar::new(),
            }),
            launcher: Mutex::new(tx),
            on_exit,
            next_run: Mutex::new(0),
        })
    }

    fn pid_file(&self, key: &str) -> PathBuf {
        self.runtime.join(format!("{}.pid", stem(key)))
    }

    /// Launches the runner of `key`; `Busy` if it runs already. Returns its pid.
    pub fn start(&self, key: &str, spec: &RunnerSpec) -> Result<u32> {
        if self.is_running(key) {
            return Err(Error::Busy(format!(
                "virtual machine '{key}' is running already"
            )));
        }
        let argv = command_line(spec)?;
        if spec.template.is_none() {
            let _ = std::fs::remove_file(&spec.qmp_socket);
        }
        let (reply_tx, reply_rx) = mpsc::channel();
        self.launcher
            .lock()
            .send(Launch {
                argv,
                console: spec.console_log.clone(),
                reply: reply_tx,
            })
            .map_err(|_| Error::Busy("the VM launcher thread has ended".into()))?;
        let mut child = reply_rx
            .recv()
            .map_err(|_| Error::Busy("the VM launcher thread has ended".into()))??;
        let pid = child.id();
        let run = {
            let mut n = self.next_run.lock();
            *n += 1;
            *n
        };
        let pid_file = self.pid_file(key);
        let record = format!("{pid} {}\n", start_time(pid).unwrap_or(0));
        if let Err(e) = crate::fsio::write_atomic(&pid_file, record.as_bytes(), 0o600) {
            log::warn(&format!("cannot record the pid of VM {key}: {e}"));
        }
        self.table.runners.lock().insert(
            key.to_string(),
            Running {
                pid,
                qmp: spec.template.is_none().then(|| spec.qmp_socket.clone()),
                requested: false,
                run,
            },
        );
        let table = self.table.clone();
        let hook = self.on_exit.clone();
        let owned_key = key.to_string();
        std::thread::Builder::new()
            .name("ssefs-vm-waiter".into())
            .spawn(move || {
                let status = child.wait();
                let requested = {
                    let mut runners = table.runners.lock();
                    let requested = runners.get(&owned_key).is_some_and(|r| r.requested);
                    if runners.get(&owned_key).is_some_and(|r| r.run == run) {
                        runners.remove(&owned_key);
                    }
                    requested
                };
                let _ = std::fs::remove_file(&pid_file);
                table.changed.notify_all();
                let info = match status {
                    Ok(s) => ExitInfo {
                        status: s.code(),
                        signal: s.signal(),
                        requested,
                    },
                    Err(_) => ExitInfo {
                        status: None,
                        signal: None,
                        requested,
                    },
                };
                hook(&owned_key, &info);
            })
            .ctx(|| "start a VM waiter thread")?;
        Ok(pid)
    }

    pub fn is_running(&self, key: &str) -> bool {
        self.table.runners.lock().contains_key(key)
    }

    pub fn running(&self) -> Vec<String> {
        self.table.runners.lock().keys().cloned().collect()
    }

    pub fn pid(&self, key: &str) -> Option<u32> {
        self.table.runners.lock().get(key).map(|r| r.pid)
    }

    /// Asks the runner to power off and returns at once; a background thread kills it if it
    /// is still there after `grace`.
    pub fn request_stop(&self, key: &str, grace: Duration) {
        let (pid, qmp, run) = {
            let mut runners = self.table.runners.lock();
            let Some(r) = runners.get_mut(key) else {
                return;
            };
            r.requested = true;
            (r.pid, r.qmp.clone(), r.run)
        };
        let table = self.table.clone();
        let key = key.to_string();
        let spawned = std::thread::Builder::new()
            .name("ssefs-vm-stopper".into())
            .spawn(move || {
                let asked = match &qmp {
                    Some(socket) => match qmp::system_powerdown(socket) {
                        Ok(()) => true,
                        Err(e) => {
                            log::warn(&format!(
                                "VM {key}: QMP power-off failed ({e}); sending SIGTERM"
                            ));
                            false
                        }
                    },
                    None => false,
                };
                if !asked {
                    signal(pid, libc::SIGTERM);
                }
                let deadline = Instant::now() + grace;
                let mut runners = table.runners.lock();
                while runners.get(&key).is_some_and(|r| r.run == run) {
                    if table.changed.wait_until(&mut runners, deadline).timed_out() {
                        if runners.get(&key).is_some_and(|r| r.run == run) {
                            log::warn(&format!(
                                "VM {key} did not power off within {}s: killing it",
                                grace.as_secs()
                            ));
                            signal(pid, libc::SIGKILL);
                        }
                        break;
                    }
                }
            });
        if let Err(e) = spawned {
            log::warn(&format!(
                "cannot start a stop thread ({e}); killing the runner"
            ));
            signal(pid, libc::SIGKILL);
        }
    }

    /// Kills the runner at once.
    pub fn kill(&self, key: &str) {
        let pid = {
            let mut runners = self.table.runners.lock();
            let Some(r) = runners.get_mut(key) else {
                return;
            };
            r.requested = true;
            r.pid
        };
        signal(pid, libc::SIGKILL);
    }

    /// Waits until the runner of `key` is gone, at most `limit`; true if it is.
    pub fn wait_gone(&self, key: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut runners = self.table.runners.lock();
        while runners.contains_key(key) {
            if self
                .table
                .changed
                .wait_until(&mut runners, deadline)
                .timed_out()
            {
                return !runners.contains_key(key);
            }
        }
        true
    }

    /// Stops every runner and waits for them all.
    pub fn stop_all(&self, grace: Duration) {
        let keys = self.running();
        for k in &keys {
            self.request_stop(k, grace);
        }
        for k in &keys {
            if !self.wait_gone(k, grace + Duration::from_secs(10)) {
                log::warn(&format!("VM {k} is still running after it was killed"));
            }
        }
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: a signal to a process we started (reaped only by our waiter thread, so the
        // pid cannot have been reused while it is in the table).
        unsafe { libc::kill(pid, sig) };
    }
}

/// Kills the runners a daemon that died left behind (pid files whose process still has the
/// recorded start time), and removes the files. Returns how many it killed.
pub fn kill_leftovers(runtime_dir: &Path) -> Result<usize> {
    let mut killed = 0;
    let entries = match std::fs::read_dir(runtime_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io(format!("list {}", runtime_dir.display()), e)),
    };
    for entry in entries {
        let path = entry
            .ctx(|| format!("list {}", runtime_dir.display()))?
            .path();
        if path.extension().is_none_or(|e| e != "pid") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let mut parts = text.split_whitespace();
        let pid = parts.next().and_then(|p| p.parse::<u32>().ok());
        let started = parts.next().and_then(|s| s.parse::<u64>().ok());
        if let (Some(pid), Some(started)) = (pid, started)
            && started != 0
            && start_time(pid) == Some(started)
        {
            signal(pid, libc::SIGKILL);
            killed += 1;
        }
        let _ = std::fs::remove_file(&path);
    }
    Ok(killed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(template: Option<&str>, data: usize) -> RunnerSpec {
        RunnerSpec {
            name: "vm1".into(),
            os_disk: PathBuf::from("/m/disks/os,1@rg"),
            data_disks: (0..data)
                .map(|i| PathBuf::from(format!("/m/disks/d{i}@rg")))
                .collect(),
            boot: Boot::default(),
            memory_mib: 512,
            cpus: 1,
            console_log: PathBuf::from("/run/x.console"),
            qmp_socket: PathBuf::from("/run/x.qmp"),
            template: template.map(str::to_string),
            accel: Accel::Tcg,
        }
    }

    #[test]
    fn templates_split_like_a_shell_and_expand_the_disks() {
        assert_eq!(
            split_words(r#"a 'b c' "d \"e\"" f\ g"#).unwrap(),
            ["a", "b c", "d \"e\"", "f g"]
        );
        assert!(split_words("'open").is_err());
        assert!(split_words("").unwrap().is_empty());
        let argv = command_line(&spec(Some("/bin/run --vm={name} '{os}' {data} end"), 2)).unwrap();
        assert_eq!(
            argv,
            [
                "/bin/run",
                "--vm=vm1",
                "/m/disks/os,1@rg",
                "/m/disks/d0@rg",
                "/m/disks/d1@rg",
                "end"
            ]
        );
        let argv = command_line(&spec(Some("/bin/run {data}"), 0)).unwrap();
        assert_eq!(argv, ["/bin/run"]);
        assert!(command_line(&spec(Some("  "), 0)).is_err());
    }

    #[test]
    fn qemu_gets_the_disks_in_order_and_the_boot_options() {
        let mut s = spec(None, 2);
        s.boot = Boot {
            kernel: Some("/k".into()),
            initrd: Some("/i".into()),
            append: Some("console=ttyS0 x=1".into()),
        };
        let argv = command_line(&s).unwrap();
        assert_eq!(argv[0], "qemu-system-x86_64");
        let drives: Vec<&String> = argv
            .iter()
            .zip(argv.iter().skip(1))
            .filter(|(a, _)| *a == "-drive")
            .map(|(_, b)| b)
            .collect();
        assert_eq!(drives.len(), 3);
        assert!(drives[0].starts_with("file=/m/disks/os,,1@rg,format=raw,if=virtio"));
        assert!(drives[2].starts_with("file=/m/disks/d1@rg,"));
        let pos = |w: &str| argv.iter().position(|a| a == w).unwrap();
        assert_eq!(argv[pos("-append") + 1], "console=ttyS0 x=1");
        assert_eq!(argv[pos("-accel") + 1], "tcg");
        assert!(!argv.contains(&"host".to_string()));
        s.accel = Accel::Kvm;
        let argv = command_line(&s).unwrap();
        assert!(argv.windows(2).any(|w| w[0] == "-cpu" && w[1] == "host"));
    }

    fn script(dir: &Path, name: &str, body: &str) -> String {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.display().to_string()
    }

    type Exits = Arc<Mutex<Vec<(String, ExitInfo)>>>;

    fn supervisor(dir: &Path) -> (Supervisor, Exits) {
        let exits = Arc::new(Mutex::new(Vec::new()));
        let seen = exits.clone();
        let hook: ExitHook = Arc::new(move |k: &str, info: &ExitInfo| {
            seen.lock().push((k.to_string(), info.clone()))
        });
        (Supervisor::new(dir.to_path_buf(), hook).unwrap(), exits)
    }

    fn wait_for_exits(exits: &Mutex<Vec<(String, ExitInfo)>>, n: usize) {
        for _ in 0..2000 {
            if exits.lock().len() >= n {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("no exit reported");
    }

    #[test]
    fn runners_are_reaped_stopped_and_killed() {
        let dir = tempfile::tempdir().unwrap();
        let (sup, exits) = supervisor(dir.path());
        let mut s = spec(None, 0);
        s.console_log = dir.path().join("console");

        // Exits by itself: reported, not requested.
        s.template = Some(script(dir.path(), "quick.sh", "echo hello; exit 3"));
        sup.start("a@rg", &s).unwrap();
        assert!(sup.wait_gone("a@rg", Duration::from_secs(20)));
        wait_for_exits(&exits, 1);
        let (key, info) = exits.lock()[0].clone();
        assert_eq!(
            (key.as_str(), info.status, info.requested),
            ("a@rg", Some(3), false)
        );
        assert!(
            std::fs::read_to_string(&s.console_log)
                .unwrap()
                .contains("hello")
        );
        assert!(!dir.path().join("a@rg.pid").exists());

        // Powers off on SIGTERM.
        s.template = Some(script(
            dir.path(),
            "polite.sh",
            "trap 'exit 0' TERM; while :; do sleep 0.05; done",
        ));
        sup.start("b@rg", &s).unwrap();
        assert!(matches!(sup.start("b@rg", &s), Err(Error::Busy(_))));
        assert!(dir.path().join("b@rg.pid").exists());
        sup.request_stop("b@rg", Duration::from_secs(20));
        assert!(sup.wait_gone("b@rg", Duration::from_secs(20)));
        wait_for_exits(&exits, 2);
        let (_, info) = exits.lock()[1].clone();
        assert!(info.requested);
        assert_eq!(info.status, Some(0));

        // Ignores SIGTERM: killed after the grace period.
        s.template = Some(script(
            dir.path(),
            "stubborn.sh",
            "trap '' TERM; while :; do sleep 0.05; done",
        ));
        sup.start("c@rg", &s).unwrap();
        sup.request_stop("c@rg", Duration::from_millis(300));
        assert!(sup.wait_gone("c@rg", Duration::from_secs(20)));
        wait_for_exits(&exits, 3);
        let (_, info) = exits.lock()[2].clone();
        assert_eq!(info.signal, Some(libc::SIGKILL));
        assert!(sup.running().is_empty());
    }

    #[test]
    fn leftovers_of_a_dead_daemon_are_killed_and_stale_files_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
        let pid = child.id();
        let started = start_time(pid).unwrap();
        std::fs::write(dir.path().join("x@rg.pid"), format!("{pid} {started}\n")).unwrap();
        // A pid file whose start time is another process's: left alone.
        let mut other = Command::new("sleep").arg("1000").spawn().unwrap();
        std::fs::write(dir.path().join("y@rg.pid"), format!("{} 1\n", other.id())).unwrap();
        assert_eq!(kill_leftovers(dir.path()).unwrap(), 1);
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
        assert!(other.try_wait().unwrap().is_none(), "a stranger was killed");
        other.kill().unwrap();
        let _ = other.wait();
        assert!(!dir.path().join("x@rg.pid").exists());
    }
}
