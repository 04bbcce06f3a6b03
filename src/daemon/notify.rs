//! Readiness for systemd (`Type=notify`): `READY=1` on the datagram socket named by
//! `$NOTIFY_SOCKET`, sent once the mount is up and served, by hand (the protocol is one
//! datagram; no crate needed). Without `$NOTIFY_SOCKET` (not under systemd) nothing is sent.

use std::os::unix::net::{SocketAddr, UnixDatagram};

use crate::log;

/// Tells the service manager, if any, that the mount is ready; logs (never fails) if it
/// cannot: the mount itself is fine, and systemd will time the unit out and say so.
pub fn ready() {
    if let Err(e) = send("READY=1\nSTATUS=serving\n") {
        log::warn(&format!("sd_notify READY=1: {e}"));
    }
}

/// Sends `state` to `$NOTIFY_SOCKET`; a path, or an abstract name written `@name`.
fn send(state: &str) -> std::io::Result<()> {
    match std::env::var_os("NOTIFY_SOCKET") {
        Some(target) => send_to(&target, state),
        None => Ok(()),
    }
}

fn send_to(target: &std::ffi::OsStr, state: &str) -> std::io::Result<()> {
    let addr = address(target)?;
    let socket = UnixDatagram::unbound()?;
    socket.send_to_addr(state.as_bytes(), &addr)?;
    Ok(())
}

fn address(target: &std::ffi::OsStr) -> std::io::Result<SocketAddr> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = target.as_bytes();
    match bytes.first() {
        Some(b'@') => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(&bytes[1..])
        }
        Some(b'/') => SocketAddr::from_pathname(target),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "NOTIFY_SOCKET is neither a path nor an abstract name",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_paths_or_abstract_names() {
        use std::os::linux::net::SocketAddrExt;
        let a = address(std::ffi::OsStr::new("@sd/notify")).unwrap();
        assert_eq!(a.as_abstract_name(), Some(&b"sd/notify"[..]));
        let p = address(std::ffi::OsStr::new("/run/systemd/notify")).unwrap();
        assert_eq!(
            p.as_pathname(),
            Some(std::path::Path::new("/run/systemd/notify"))
        );
        assert!(address(std::ffi::OsStr::new("relative")).is_err());
    }

    #[test]
    fn ready_reaches_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        send_to(path.as_os_str(), "READY=1\n").unwrap();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"READY=1\n"));
    }
}
