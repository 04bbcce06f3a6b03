//! `mount.fuse.ssefs`: the binary called by that name (a symbolic link installed in /sbin by
//! scripts/install.sh) is the helper mount(8) runs for `mount -t fuse.ssefs` and for fstab
//! lines of that type. mount(8) calls it as
//!
//! ```text
//! mount.fuse.ssefs SOURCE MOUNTPOINT [-sfnv] [-o OPTIONS] [-t fuse.ssefs]
//! ```
//!
//! and it becomes `ssefs --store STORE mount MOUNTPOINT ...`. SOURCE is the store directory,
//! written `STORE` or `ssefs:STORE` (the source /proc/mounts shows). OPTIONS of ours:
//! `caching=None|ReadOnly|ReadWrite`, `transport=auto|dev-fuse|io-uring`, `allow_other`,
//! `threads=N`, `debug`. Generic options that mount(8),
//! fstab and systemd use for themselves (`rw`, `defaults`, `auto`, `noauto`, `nofail`,
//! `_netdev`, `user`, `users`, `nosuid`, `nodev`, `x-*`, `comment=*`) are ignored: the mount
//! is always nosuid and nodev. Anything else is refused, unless `-s` (sloppy) is given.
//!
//! Without our helper in /sbin, mount(8) runs fuse3's generic `mount.fuse` for type
//! `fuse.ssefs`, which runs `ssefs SOURCE MOUNTPOINT -o OPTIONS,dev,suid` from `PATH`: the
//! binary called as `ssefs` with an absolute path (or `ssefs:`) where a command name would be
//! is that call, and is read the same way.

use std::ffi::OsStr;
use std::path::Path;

/// What the helper was asked to do.
#[derive(Debug, PartialEq, Eq)]
pub enum HelperCall {
    /// Not called as the helper: parse the command line as usual.
    NotHelper,
    /// Run these arguments (after the program name) as ssefs's own command line.
    Run(Vec<String>),
    /// `-f` (fake): mount(8) asked for everything but the mount itself.
    Nothing,
}

/// The helper's names: a program name ending with one of these is the helper.
const NAMES: [&str; 2] = ["mount.fuse.ssefs", "mount.ssefs"];

/// Options mount(8), fstab and systemd keep for themselves, or that the mount always has.
fn is_generic(option: &str) -> bool {
    matches!(
        option,
        "rw" | "defaults"
            | "auto"
            | "noauto"
            | "nofail"
            | "_netdev"
            | "user"
            | "users"
            | "nouser"
            | "owner"
            | "group"
            | "nosuid"
            | "nodev"
            | "exec"
            | "noexec"
            | "atime"
            | "noatime"
            | "relatime"
            | "async"
            // fuse3's mount.fuse adds these unless told otherwise.
            | "dev"
            | "suid"
    ) || option.starts_with("x-")
        || option.starts_with("comment=")
}

/// Reads the command line as mount(8) gives it to a helper, if `argv0` names the helper;
/// an error is a one-line message (mount's usage status, 1).
pub fn parse(argv0: &OsStr, args: &[String]) -> Result<HelperCall, String> {
    let name = Path::new(argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // fuse3's mount.fuse: `ssefs SOURCE MOUNTPOINT -o ...`; no command starts with '/'.
    let from_mount_fuse = name == "ssefs"
        && args.first().is_some_and(|a| {
            a.starts_with('/') || a.starts_with(crate::fs::session::SOURCE_PREFIX)
        });
    if !NAMES.contains(&name.as_str()) && !from_mount_fuse {
        return Ok(HelperCall::NotHelper);
    }
    let usage = || format!("usage: {name} STORE MOUNTPOINT [-sfnv] [-o OPTIONS]");
    let mut positional = Vec::new();
    let mut options = Vec::new();
    let (mut sloppy, mut fake, mut verbose) = (false, false, false);
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "-o" || arg == "-t" || arg == "-N" {
            let value = args.get(i + 1).ok_or_else(usage)?;
            if arg == "-o" {
                options.extend(value.split(',').filter(|o| !o.is_empty()).map(String::from));
            }
            i += 2;
            continue;
        }
        if let Some(value) = arg.strip_prefix("-o")
            && !value.is_empty()
        {
            options.extend(value.split(',').filter(|o| !o.is_empty()).map(String::from));
        } else if arg.starts_with('-') && arg.len() > 1 {
            for flag in arg[1..].chars() {
                match flag {
                    's' => sloppy = true,
                    'f' => fake = true,
                    'v' => verbose = true,
                    // No /etc/mtab to write: /proc/mounts is the table.
                    'n' => {}
                    _ => return Err(format!("{name}: unknown flag -{flag}\n{}", usage())),
                }
            }
        } else {
            positional.push(arg.clone());
        }
        i += 1;
    }
    let [source, mountpoint] = positional.as_slice() else {
        return Err(usage());
    };
    let store = source
        .strip_prefix(crate::fs::session::SOURCE_PREFIX)
        .unwrap_or(source);
    let mut out = vec![
        "--store".to_string(),
        store.to_string(),
        "mount".to_string(),
        mountpoint.clone(),
    ];
    for option in &options {
        let (key, value) = match option.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (option.as_str(), None),
        };
        match (key, value) {
            ("caching", Some(v)) => out.extend(["--caching".to_string(), v.to_string()]),
            ("threads", Some(v)) => out.extend(["--threads".to_string(), v.to_string()]),
            ("transport", Some(v)) => out.extend(["--transport".to_string(), v.to_string()]),
            ("allow_other", None) => out.push("--allow-other".to_string()),
            ("debug", None) => out.push("--debug".to_string()),
            _ if is_generic(option) || sloppy => {}
            _ => {
                return Err(format!(
                    "(NotSupported) {name}: the mount option '{option}' is not supported \
                     (ssefs takes caching=None|ReadOnly|ReadWrite, \
                     transport=auto|dev-fuse|io-uring, allow_other, threads=N, debug)"
                ));
            }
        }
    }
    if verbose {
        eprintln!("{name}: ssefs {}", out.join(" "));
    }
    Ok(if fake {
        HelperCall::Nothing
    } else {
        HelperCall::Run(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(args: &[&str]) -> Result<HelperCall, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse(OsStr::new("/usr/sbin/mount.fuse.ssefs"), &args)
    }

    fn run(args: &[&str]) -> Vec<String> {
        match call(args) {
            Ok(HelperCall::Run(a)) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_the_helper_names_are_the_helper() {
        let args = vec!["disk".to_string(), "list".to_string()];
        assert_eq!(
            parse(OsStr::new("/usr/bin/ssefs"), &args),
            Ok(HelperCall::NotHelper)
        );
        assert_eq!(
            parse(OsStr::new("mount.ssefs"), &[]),
            Err("usage: mount.ssefs STORE MOUNTPOINT [-sfnv] [-o OPTIONS]".to_string())
        );
    }

    #[test]
    fn mount_8_calls_become_ssefs_mount() {
        assert_eq!(
            run(&[
                "ssefs:/var/lib/ssefs",
                "/mnt/d",
                "-o",
                "rw,caching=ReadOnly,allow_other,threads=4,transport=io-uring,nofail,x-systemd.automount,_netdev",
                "-t",
                "fuse.ssefs",
            ]),
            [
                "--store",
                "/var/lib/ssefs",
                "mount",
                "/mnt/d",
                "--caching",
                "ReadOnly",
                "--allow-other",
                "--threads",
                "4",
                "--transport",
                "io-uring"
            ]
        );
        assert_eq!(
            run(&["-n", "/s", "/m", "-odefaults"]),
            ["--store", "/s", "mount", "/m"]
        );
        assert_eq!(call(&["/s", "/m", "-f"]), Ok(HelperCall::Nothing));
    }

    #[test]
    fn fuse3_mount_fuse_calls_are_read_too() {
        let args: Vec<String> = ["/var/lib/ssefs", "/mnt/d", "-o", "rw,caching=None,dev,suid"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            parse(OsStr::new("/usr/local/bin/ssefs"), &args),
            Ok(HelperCall::Run(
                [
                    "--store",
                    "/var/lib/ssefs",
                    "mount",
                    "/mnt/d",
                    "--caching",
                    "None"
                ]
                .iter()
                .map(|s| s.to_string())
                .collect()
            ))
        );
        let args = vec!["--store".to_string(), "/s".to_string(), "check".to_string()];
        assert_eq!(parse(OsStr::new("ssefs"), &args), Ok(HelperCall::NotHelper));
    }

    #[test]
    fn unknown_options_are_refused_unless_sloppy() {
        let e = call(&["/s", "/m", "-o", "ro"]).unwrap_err();
        assert!(e.starts_with("(NotSupported)") && e.contains("'ro'"), "{e}");
        assert_eq!(
            run(&["-s", "/s", "/m", "-o", "ro"]),
            ["--store", "/s", "mount", "/m"]
        );
        assert!(call(&["/s"]).is_err());
        assert!(call(&["/s", "/m", "-o"]).is_err());
        assert!(call(&["/s", "/m", "-x"]).is_err());
    }
}
