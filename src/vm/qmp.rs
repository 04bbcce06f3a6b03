//! A minimal QMP (QEMU Machine Protocol) client: enough to ask a guest to power off.
//!
//! QMP is line-delimited JSON on a unix socket: the server greets with `{"QMP": ...}`, the
//! client must send `qmp_capabilities` before any other command, and each command gets one
//! `{"return": ...}` or `{"error": ...}` reply, possibly preceded by asynchronous
//! `{"event": ...}` lines. Every exchange has a deadline, so a wedged qemu cannot hang a stop.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::{Error, Result};

/// The default deadline of each exchange (greeting, command and reply).
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// A QMP line longer than this is not something we asked for; refuse rather than buffer it.
const MAX_LINE: u64 = 1 << 20;

/// One QMP session, past the capabilities negotiation.
pub struct Client {
    reader: BufReader<UnixStream>,
    path: PathBuf,
    timeout: Duration,
}

impl Client {
    /// Connects, reads the greeting and negotiates capabilities (command mode).
    pub fn connect(path: &Path, timeout: Duration) -> Result<Client> {
        let stream = UnixStream::connect(path)
            .map_err(|e| Error::io(format!("connect to QMP socket {}", path.display()), e))?;
        let mut client = Client {
            reader: BufReader::new(stream),
            path: path.to_path_buf(),
            timeout,
        };
        let deadline = Instant::now() + timeout;
        let greeting = client.read_message(deadline)?;
        if greeting.get("QMP").is_none() {
            return Err(client.protocol(format!("expected a QMP greeting, got {greeting}")));
        }
        client.execute("qmp_capabilities")?;
        Ok(client)
    }

    /// Runs one argument-less command and returns the value of its `return`.
    pub fn execute(&mut self, command: &str) -> Result<Value> {
        let deadline = Instant::now() + self.timeout;
        let mut line = serde_json::json!({ "execute": command }).to_string();
        line.push('\n');
        // `&UnixStream` writes too: no need to borrow the reader mutably.
        let mut stream: &UnixStream = self.reader.get_ref();
        let armed = stream.set_write_timeout(Some(self.timeout));
        armed.map_err(|e| self.io_error("set a write timeout on", e))?;
        let written = stream.write_all(line.as_bytes());
        written.map_err(|e| self.io_error(&format!("send {command} to"), e))?;
        loop {
            let message = self.read_message(deadline)?;
            if let Some(value) = message.get("return") {
                return Ok(value.clone());
            }
            if let Some(error) = message.get("error") {
                let class = error
                    .get("class")
                    .and_then(Value::as_str)
                    .unwrap_or("Error");
                let desc = error.get("desc").and_then(Value::as_str).unwrap_or("");
                return Err(Error::Busy(format!(
                    "QMP {command} on {}: {class}: {desc}",
                    self.path.display()
                )));
            }
            // Anything else ({"event": ...}) is news we did not ask for: skip it.
        }
    }

    /// Reads the next JSON object, waiting at most until `deadline`.
    fn read_message(&mut self, deadline: Instant) -> Result<Value> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let timed_out = std::io::Error::from(ErrorKind::TimedOut);
                return Err(self.io_error("no reply in time from", timed_out));
            }
            // Re-armed before every read so that a trickle of events cannot stretch the wait.
            let armed = self.reader.get_ref().set_read_timeout(Some(left));
            armed.map_err(|e| self.io_error("set a read timeout on", e))?;
            let mut line = Vec::new();
            let read = (&mut self.reader)
                .take(MAX_LINE)
                .read_until(b'\n', &mut line);
            match read {
                Ok(0) => {
                    let eof = std::io::Error::from(ErrorKind::UnexpectedEof);
                    return Err(self.io_error("connection closed by", eof));
                }
                Ok(_) if !line.ends_with(b"\n") => {
                    return Err(self.protocol("a line too long or cut short".to_string()));
                }
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_error("read from", e)),
            }
            let text = String::from_utf8_lossy(&line);
            if text.trim().is_empty() {
                continue;
            }
            return serde_json::from_str(text.trim())
                .map_err(|e| self.protocol(format!("not JSON ({e}): {}", text.trim())));
        }
    }

    fn io_error(&self, what: &str, e: std::io::Error) -> Error {
        Error::io(format!("{what} QMP socket {}", self.path.display()), e)
    }

    fn protocol(&self, problem: String) -> Error {
        let e = std::io::Error::new(ErrorKind::InvalidData, problem);
        self.io_error("unexpected message on", e)
    }
}

/// Asks the guest behind `path` to power off (the ACPI power button); returns once qemu has
/// accepted the request, not when the guest is off.
pub fn system_powerdown(path: &Path, timeout: Duration) -> Result<()> {
    let mut client = Client::connect(path, timeout)?;
    client.execute("system_powerdown").map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;
    use std::sync::mpsc;

    /// A fake qemu: greets, then answers each command with the next canned reply lines, and
    /// reports every command it received.
    fn fake_server(
        path: &Path,
        replies: Vec<Vec<&'static str>>,
    ) -> (mpsc::Receiver<String>, std::thread::JoinHandle<()>) {
        let listener = UnixListener::bind(path).expect("bind");
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            let mut writer = stream.try_clone().expect("clone");
            let mut reader = BufReader::new(stream);
            writer
                .write_all(b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n")
                .expect("greet");
            for reply in replies {
                let mut line = String::new();
                if reader.read_line(&mut line).expect("read") == 0 {
                    return;
                }
                let v: Value = serde_json::from_str(&line).expect("client sent JSON");
                let _ = tx.send(v["execute"].as_str().unwrap_or("?").to_string());
                for r in reply {
                    writer.write_all(r.as_bytes()).expect("reply");
                    writer.write_all(b"\r\n").expect("reply");
                }
            }
        });
        (rx, handle)
    }

    #[test]
    fn powerdown_negotiates_then_sends_system_powerdown_skipping_events() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("qmp.sock");
        let (rx, server) = fake_server(
            &sock,
            vec![
                vec![r#"{"return": {}}"#],
                vec![
                    r#"{"event": "POWERDOWN", "data": {}, "timestamp": {"seconds": 1, "microseconds": 2}}"#,
                    r#"{"return": {}}"#,
                ],
            ],
        );
        system_powerdown(&sock, TIMEOUT).expect("powerdown");
        server.join().expect("server");
        let sent: Vec<String> = rx.try_iter().collect();
        assert_eq!(sent, ["qmp_capabilities", "system_powerdown"]);
    }

    #[test]
    fn an_error_reply_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("qmp.sock");
        let (_rx, server) = fake_server(
            &sock,
            vec![
                vec![r#"{"return": {}}"#],
                vec![r#"{"error": {"class": "GenericError", "desc": "no way"}}"#],
            ],
        );
        let err = system_powerdown(&sock, TIMEOUT).expect_err("refused");
        assert!(err.to_string().contains("no way"), "{err}");
        server.join().expect("server");
    }

    #[test]
    fn a_silent_server_times_out_and_a_missing_socket_fails() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("qmp.sock");
        // Accepts (the kernel does, from the backlog) but never greets.
        let _listener = UnixListener::bind(&sock).expect("bind");
        let err = Client::connect(&sock, Duration::from_millis(200)).err();
        assert!(matches!(err, Some(Error::Io { .. })), "{err:?}");
        let missing = dir.path().join("none.sock");
        assert!(system_powerdown(&missing, TIMEOUT).is_err());
    }
}
