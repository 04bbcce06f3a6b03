//! Diagnostics on stderr: one line per event, never a secret (callers pass names, ids and
//! error messages, which by construction hold no key bytes).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static DEBUG: AtomicBool = AtomicBool::new(false);
static VERBOSE: AtomicBool = AtomicBool::new(false);

/// Turns on `debug` lines (`--debug`).
pub fn set_debug(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
}

/// A warning that does not fail the operation.
pub fn warn(msg: &str) {
    line("warning: ", msg);
}

/// Turns on `INFO:` lines (`--verbose`; `--debug` shows them too).
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

/// A progress-level line, shown with `--verbose` or `--debug`, as az's `INFO:` lines.
pub fn verbose(msg: &str) {
    if VERBOSE.load(Ordering::Relaxed) || DEBUG.load(Ordering::Relaxed) {
        let _ = std::io::stderr()
            .lock()
            .write_all(format!("INFO: {msg}\n").as_bytes());
    }
}

/// Whether `--debug` is on (check it before formatting a line on a hot path).
pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

/// A line shown only with `--debug`.
pub fn debug(msg: &str) {
    if DEBUG.load(Ordering::Relaxed) {
        line("debug: ", msg);
    }
}

/// A notable event (mount, unmount), on stderr: the daemon's log when detached.
pub fn info(msg: &str) {
    line("", msg);
}

/// Writes one line to stderr, ignoring failure: `eprintln!` panics when stderr cannot be
/// written, and the detached daemon's stderr is `STORE/daemon.log`, on the store's file system,
/// which may be full; a panic in a request thread would end the mount.
fn line(kind: &str, msg: &str) {
    let text = format!("ssefs: {kind}{msg}\n");
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
