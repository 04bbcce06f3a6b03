//! Diagnostics on stderr: one line per event, never a secret (callers pass names, ids and
//! error messages, which by construction hold no key bytes).

use std::sync::atomic::{AtomicBool, Ordering};

static DEBUG: AtomicBool = AtomicBool::new(false);
static VERBOSE: AtomicBool = AtomicBool::new(false);

/// Turns on `debug` lines (`--debug`).
pub fn set_debug(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
}

/// A warning that does not fail the operation.
pub fn warn(msg: &str) {
    eprintln!("ssefs: warning: {msg}");
}

/// Turns on `INFO:` lines (`--verbose`; `--debug` shows them too).
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

/// A progress-level line, shown with `--verbose` or `--debug`, as az's `INFO:` lines.
pub fn verbose(msg: &str) {
    if VERBOSE.load(Ordering::Relaxed) || DEBUG.load(Ordering::Relaxed) {
        eprintln!("INFO: {msg}");
    }
}

/// Whether `--debug` is on (check it before formatting a line on a hot path).
pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

/// A line shown only with `--debug`.
pub fn debug(msg: &str) {
    if DEBUG.load(Ordering::Relaxed) {
        eprintln!("ssefs: debug: {msg}");
    }
}

/// A notable event (mount, unmount), on stderr: the daemon's log when detached.
pub fn info(msg: &str) {
    eprintln!("ssefs: {msg}");
}
