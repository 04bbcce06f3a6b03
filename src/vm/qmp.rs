//! A minimal QMP client: connect to qemu's control socket, leave capabilities negotiation,
//! and ask the guest to power off (`system_powerdown`, an ACPI power-button press).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, IoContext, Result};

/// How long any one QMP exchange may take.
const QMP_TIMEOUT: Duration = Duration::from_secs(5);

/// An open QMP session.
pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    /// Connects, reads the greeting and leaves negotiation mode.
    pub fn connect(socket: &Path) -> Result<Qmp> {
        let stream = UnixStream::connect(socket)
            .ctx(|| format!("connect to QMP at {}", socket.display()))?;
        stream
            .set_read_timeout(Some(QMP_TIMEOUT))
            .ctx(|| "QMP timeout")?;
        stream
            .set_write_timeout(Some(QMP_TIMEOUT))
            .ctx(|| "QMP timeout")?;
        let writer = stream.try_clone().ctx(|| "QMP socket")?;
        let mut qmp = Qmp {
            reader: BufReader::new(stream),
            writer,
        };
        let greeting = qmp.read_message()?;
        if greeting.get("QMP").is_none() {
            return Err(Error::invalid(format!("not a QMP greeting: {greeting}")));
        }
        qmp.execute("qmp_capabilities")?;
        Ok(qmp)
    }

    fn read_message(&mut self) -> Result<Value> {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).ctx(|| "read from QMP")?;
        if n == 0 {
            return Err(Error::io(
                "read from QMP",
                std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
            ));
        }
        serde_json::from_str(&line).map_err(|e| Error::invalid(format!("QMP sent bad JSON: {e}")))
    }

    /// Runs one command and returns its `return` value; asynchronous events are skipped.
    pub fn execute(&mut self, command: &str) -> Result<Value> {
        let request = serde_json::json!({ "execute": command });
        self.writer
            .write_all(format!("{request}\n").as_bytes())
            .ctx(|| "write to QMP")?;
        loop {
            let msg = self.read_message()?;
            if let Some(ret) = msg.get("return") {
                return Ok(ret.clone());
            }
            if let Some(err) = msg.get("error") {
                return Err(Error::invalid(format!("QMP {command} failed: {err}")));
            }
            // {"event": ...}: not our answer.
        }
    }
}

/// Asks the guest behind `socket` to power off.
pub fn system_powerdown(socket: &Path) -> Result<()> {
    Qmp::connect(socket)?.execute("system_powerdown").map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn powerdown_negotiates_then_sends_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qmp.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut writer = stream.try_clone().unwrap();
            let mut reader = BufReader::new(stream);
            writer
                .write_all(b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n")
                .unwrap();
            let mut seen = Vec::new();
            for _ in 0..2 {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let v: Value = serde_json::from_str(&line).unwrap();
                seen.push(v["execute"].as_str().unwrap().to_string());
                writer
                    .write_all(b"{\"event\": \"SOMETHING\", \"data\": {}}\n{\"return\": {}}\n")
                    .unwrap();
            }
            seen
        });
        system_powerdown(&path).unwrap();
        assert_eq!(
            server.join().unwrap(),
            ["qmp_capabilities", "system_powerdown"]
        );
    }

    #[test]
    fn a_missing_socket_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        assert!(system_powerdown(&dir.path().join("none")).is_err());
    }
}
