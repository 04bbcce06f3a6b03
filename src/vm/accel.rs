//! Chooses qemu's accelerator: KVM when it really runs a guest here, else TCG (emulation).
//!
//! An openable `/dev/kvm` is not enough: under nested virtualisation KVM can be present and
//! still hang at the guest's first instructions. So `auto` boots a seven-byte guest under KVM
//! and trusts KVM only if that guest switches qemu off by itself within [`PROBE_LIMIT`]. The
//! answer is computed once per process.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::log;

/// How long the probe guest may take to power off before KVM is judged unusable.
pub const PROBE_LIMIT: Duration = Duration::from_secs(5);

/// The qemu binary of the default runner and of the probe.
pub const QEMU: &str = "qemu-system-x86_64";

/// The value the probe guest writes to the isa-debug-exit port. qemu then exits with
/// `(value << 1) | 1` = 85: a status that qemu's own failures (exit 1) never produce.
const PROBE_EXIT_VALUE: u8 = 0x2a;
const PROBE_EXIT_STATUS: i32 = ((PROBE_EXIT_VALUE as i32) << 1) | 1;

/// The `vm.accel` choice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Accel {
    /// KVM if the probe guest runs under it, else TCG.
    #[default]
    Auto,
    /// KVM, unprobed: a launch fails if the host cannot provide it.
    Kvm,
    /// Emulation: always works, slowly.
    Tcg,
}

impl Accel {
    /// Parses `auto`, `kvm` or `tcg` (any case, as az treats enumerated values).
    pub fn parse(s: &str) -> Result<Accel> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Accel::Auto),
            "kvm" => Ok(Accel::Kvm),
            "tcg" => Ok(Accel::Tcg),
            _ => Err(Error::invalid(format!(
                "'{s}' is not a valid accelerator; allowed values: auto, kvm, tcg"
            ))),
        }
    }

    /// The canonical spelling, as [`Accel::parse`] accepts it.
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Auto => "auto",
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// The value of qemu's `-accel`: "kvm" or "tcg". Only [`Accel::Auto`] probes (once per process;
/// callers meanwhile wait for the first probe's answer).
pub fn resolve(accel: Accel) -> &'static str {
    static PROBED: OnceLock<&'static str> = OnceLock::new();
    match accel {
        Accel::Kvm => "kvm",
        Accel::Tcg => "tcg",
        Accel::Auto => PROBED.get_or_init(|| {
            let (choice, why) = probe();
            log::info(&format!("vm accelerator: {choice} ({why})"));
            choice
        }),
    }
}

/// Decides, with the reason for the log.
fn probe() -> (&'static str, String) {
    if let Err(e) = OpenOptions::new().read(true).write(true).open("/dev/kvm") {
        return ("tcg", format!("/dev/kvm cannot be opened: {e}"));
    }
    let image = probe_image_path();
    let outcome = write_boot_sector(&image).and_then(|()| boot(&image, "kvm", PROBE_LIMIT));
    let _ = std::fs::remove_file(&image);
    match outcome {
        Ok(Some(status)) if status == PROBE_EXIT_STATUS => {
            ("kvm", "a probe guest ran under KVM".to_string())
        }
        Ok(Some(status)) => (
            "tcg",
            format!("qemu -accel kvm exited with status {status} before the probe guest ran"),
        ),
        Ok(None) => (
            "tcg",
            format!(
                "a probe guest under KVM did not finish in {} s (nested KVM?)",
                PROBE_LIMIT.as_secs()
            ),
        ),
        Err(e) => ("tcg", format!("KVM probe failed: {e}")),
    }
}

/// A fresh name in the temporary directory (the probe may run in tests and daemons at once).
fn probe_image_path() -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("ssefs-kvm-probe-{}-{n}.img", std::process::id()))
}

/// The probe guest: a BIOS boot sector that writes [`PROBE_EXIT_VALUE`] to port 0xf4
/// (isa-debug-exit, which ends qemu) and then halts for ever.
fn boot_sector() -> [u8; 512] {
    const CODE: [u8; 7] = [
        0xb0,
        PROBE_EXIT_VALUE, // mov al, PROBE_EXIT_VALUE
        0xe6,
        0xf4, // out 0xf4, al
        0xf4, // hlt
        0xeb,
        0xfd, // jmp back to the hlt
    ];
    let mut sector = [0u8; 512];
    sector[..CODE.len()].copy_from_slice(&CODE);
    // The signature the BIOS wants before it boots a sector.
    sector[510] = 0x55;
    sector[511] = 0xaa;
    sector
}

fn write_boot_sector(path: &Path) -> Result<()> {
    let mut f = crate::fsio::create_new_private(path)?;
    f.write_all(&boot_sector())
        .map_err(|e| Error::io(format!("write {}", path.display()), e))
}

/// Boots the probe image with `-accel ACCEL`. `Some(status)` if qemu exited by itself within
/// `limit`, `None` if it had to be killed.
fn boot(image: &Path, accel: &str, limit: Duration) -> Result<Option<i32>> {
    let mut drive = std::ffi::OsString::from("file=");
    drive.push(super::runner::escape_qemu_option(image.as_os_str()));
    drive.push(",format=raw,if=ide");
    let mut cmd = Command::new(QEMU);
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: child_setup only makes async-signal-safe system calls. It makes a guest hung in
    // KVM die with us if we die while waiting for it.
    unsafe {
        cmd.pre_exec(move || super::runner::child_setup(parent));
    }
    let mut child = cmd
        .args([
            "-accel",
            accel,
            "-machine",
            "pc",
            "-nodefaults",
            "-display",
            "none",
        ])
        .args(["-no-user-config", "-m", "16"])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        .arg("-drive")
        .arg(drive)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Error::io(format!("run {QEMU}"), e))?;
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(Some(status.code().unwrap_or(-1))),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) => break,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::io(format!("wait for {QEMU}"), e));
            }
        }
    }
    // A hung KVM guest: that is the answer, not an error.
    let _ = child.kill();
    let _ = child.wait();
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_choices_in_any_case() {
        assert_eq!(Accel::parse("auto").ok(), Some(Accel::Auto));
        assert_eq!(Accel::parse("KVM").ok(), Some(Accel::Kvm));
        assert_eq!(Accel::parse("tcg").ok(), Some(Accel::Tcg));
        for a in [Accel::Auto, Accel::Kvm, Accel::Tcg] {
            assert_eq!(Accel::parse(a.as_str()).ok(), Some(a));
        }
        assert!(matches!(
            Accel::parse("hvf"),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn explicit_choices_are_not_probed() {
        assert_eq!(resolve(Accel::Kvm), "kvm");
        assert_eq!(resolve(Accel::Tcg), "tcg");
    }

    #[test]
    fn boot_sector_is_the_documented_program() {
        let s = boot_sector();
        assert_eq!(&s[..7], &[0xb0, 0x2a, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd]);
        assert!(s[7..510].iter().all(|&b| b == 0));
        assert_eq!(&s[510..], &[0x55, 0xaa]);
        // isa-debug-exit's status for that value.
        assert_eq!(PROBE_EXIT_STATUS, 85);
    }

    /// The probe guest really ends qemu with the expected status (under TCG, which works
    /// everywhere qemu is installed); skipped without qemu.
    #[test]
    fn probe_guest_exits_with_the_expected_status_under_tcg() {
        if Command::new(QEMU).arg("--version").output().is_err() {
            eprintln!("{QEMU} not installed: skipped");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let image = dir.path().join("boot.img");
        write_boot_sector(&image).expect("write image");
        // Generous: this proves the guest program, not the speed of the machine.
        let status = boot(&image, "tcg", Duration::from_secs(60)).expect("run qemu");
        assert_eq!(status, Some(PROBE_EXIT_STATUS));
    }

    #[test]
    fn auto_resolves_to_one_of_the_two() {
        let a = resolve(Accel::Auto);
        assert!(a == "kvm" || a == "tcg");
        // Cached: the second answer is the first.
        assert_eq!(resolve(Accel::Auto), a);
    }
}
