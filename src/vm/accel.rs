//! Which accelerator qemu gets: KVM when it works here, else TCG. `/dev/kvm` may exist and
//! still hang a guest at boot (nested KVM on some hosts), so `auto` boots a 512-byte probe
//! guest with KVM and falls back to TCG unless it exits by itself within [`PROBE_LIMIT`].

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::log;

/// How long the KVM probe guest may take to exit.
const PROBE_LIMIT: Duration = Duration::from_secs(5);

/// The `vm.accel` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    Auto,
    Kvm,
    Tcg,
}

impl Accel {
    pub fn parse(s: &str) -> Result<Accel> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Accel::Auto),
            "kvm" => Ok(Accel::Kvm),
            "tcg" => Ok(Accel::Tcg),
            _ => Err(Error::invalid(format!(
                "accelerator '{}' is not auto, kvm or tcg",
                s.chars().take(20).collect::<String>()
            ))),
        }
    }
}

/// qemu's `-accel` value for a setting (`auto` probes once per process).
pub fn resolve(accel: Accel) -> &'static str {
    static PROBED: OnceLock<&'static str> = OnceLock::new();
    match accel {
        Accel::Kvm => "kvm",
        Accel::Tcg => "tcg",
        Accel::Auto => PROBED.get_or_init(|| {
            let choice = if kvm_boots() { "kvm" } else { "tcg" };
            log::info(&format!("VMs use qemu's {choice} accelerator"));
            choice
        }),
    }
}

/// A boot sector that writes 0 to the isa-debug-exit port (qemu exits with status 1).
fn probe_sector() -> [u8; 512] {
    let mut s = [0u8; 512];
    // mov al, 0; out 0xf4, al; hlt; jmp $-1
    s[..7].copy_from_slice(&[0xB0, 0x00, 0xE6, 0xF4, 0xF4, 0xEB, 0xFD]);
    s[510] = 0x55;
    s[511] = 0xAA;
    s
}

fn kvm_boots() -> bool {
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_err()
    {
        return false;
    }
    let path = std::env::temp_dir().join(format!(
        "ssefs-kvm-probe-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    let written = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(&probe_sector()))
    };
    let booted = written.is_ok() && probe(&path);
    let _ = std::fs::remove_file(&path);
    booted
}

fn probe(image: &std::path::Path) -> bool {
    let child = Command::new("qemu-system-x86_64")
        .args([
            "-accel",
            "kvm",
            "-machine",
            "pc",
            "-nodefaults",
            "-no-user-config",
        ])
        .args(["-display", "none", "-m", "16"])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        .arg("-drive")
        .arg(format!("file={},format=raw,if=ide", image.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return false;
    };
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.code() == Some(1),
            Ok(None) if started.elapsed() < PROBE_LIMIT => {
                std::thread::sleep(Duration::from_millis(50))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_and_fixed_choices_need_no_probe() {
        assert_eq!(Accel::parse("KVM").unwrap(), Accel::Kvm);
        assert!(Accel::parse("hvf").is_err());
        assert_eq!(resolve(Accel::Tcg), "tcg");
        assert_eq!(resolve(Accel::Kvm), "kvm");
        let s = probe_sector();
        assert_eq!((s[510], s[511]), (0x55, 0xAA));
    }
}
