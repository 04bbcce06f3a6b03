//! Progress of long work on the caller's terminal: copies of disks and snapshots that are not
//! reflinks, re-encryptions under a new key, rotations of a set (every DEK re-wrapped, also
//! when a rotation a crash interrupted is resumed) and `ssefs check`.
//!
//! A bar (indicatif) on stderr, shown only when the work runs in the command's own process and
//! its stderr is a terminal: never in a pipe or a script's captured output, and never on
//! stdout, so `-o json`/`tsv` output is the same with or without a terminal. The mount daemon
//! turns it off: its work is for other processes' commands and its stderr is its log. Small
//! work (under [`MIN_BYTES`] or [`MIN_ITEMS`]) finishes before a bar would help.
//!
//! In the mount daemon, the work of a forwarded command whose caller's stderr is a terminal is
//! reported to a [`Relay`] instead: the daemon sends its state to the caller (see
//! `daemon::remote`), whose [`Mirror`] draws the same bar there.
//!
//! ```text
//! copying disk 'd1' [##############>-----------------] 1.21 GiB/2.00 GiB (3s)
//! re-wrapping the DEKs of disk encryption set 'des1' [####>---------] 312/1000 (12s)
//! ```

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// Set by the mount daemon: its work is for other processes' commands.
static DISABLED: AtomicBool = AtomicBool::new(false);

/// Byte counts smaller than this finish before a bar would help.
pub const MIN_BYTES: u64 = 64 << 20;
/// Item counts (disks, records) smaller than this finish before a bar would help.
pub const MIN_ITEMS: u64 = 2;

/// Turns progress off for this process (the mount daemon).
pub fn disable() {
    DISABLED.store(true, Ordering::Relaxed);
}

/// Where the daemon's work reports while a forwarded command that wants progress runs (one
/// forwarded command runs at a time: the daemon's command gate).
static RELAY: Mutex<Option<Arc<Relay>>> = Mutex::new(None);

/// How the work is counted, for the bar's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Bytes,
    Items,
}

/// The state of one piece of work, as the daemon sends it to its caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    pub what: String,
    pub unit: Unit,
    pub total: u64,
    pub done: u64,
}

/// The latest state of the daemon's work for the caller of the running command; `None` when
/// no work is in progress. `take_changes` hands each new state out once.
#[derive(Default)]
pub struct Relay {
    state: Mutex<RelayState>,
}

#[derive(Default)]
struct RelayState {
    current: Option<Update>,
    changed: bool,
    /// The last update of work that ended before it was handed out: work shorter than the
    /// relay's period still shows its bar, at its end.
    ended: Option<Update>,
}

impl Relay {
    fn set(&self, update: Option<Update>) {
        let mut state = self.state.lock();
        if state.current != update {
            if update.is_none() && state.changed && state.ended.is_none() {
                state.ended = state.current.take();
            }
            state.current = update;
            state.changed = true;
        }
    }

    /// The states to hand out since the last call, oldest first (none if nothing changed).
    pub fn take_changes(&self) -> Vec<Option<Update>> {
        let mut state = self.state.lock();
        if !std::mem::take(&mut state.changed) {
            return Vec::new();
        }
        let mut out = Vec::new();
        if let Some(ended) = state.ended.take() {
            out.push(Some(ended));
        }
        out.push(state.current.clone());
        out
    }
}

/// Sends the progress of this process's work to `relay` (the daemon, while a forwarded
/// command of a caller on a terminal runs), or stops doing so (`None`).
pub fn relay_to(relay: Option<Arc<Relay>>) {
    *RELAY.lock() = relay;
}

/// The work is reported to a relay rather than drawn.
struct Relayed {
    relay: Arc<Relay>,
    what: String,
    unit: Unit,
    total: u64,
    done: AtomicU64,
}

impl Relayed {
    fn send(&self) {
        self.relay.set(Some(Update {
            what: self.what.clone(),
            unit: self.unit,
            total: self.total,
            done: self.done.load(Ordering::Relaxed).min(self.total),
        }));
    }
}

/// One piece of work whose progress may be shown. Shared by reference between the threads
/// that do the work (a rotation's re-wrap workers): the bar is thread-safe.
pub struct Progress {
    bar: Option<ProgressBar>,
    relayed: Option<Relayed>,
}

impl Progress {
    /// Work counted in bytes; `what` is shown before the bar ("copying disk 'd1'").
    pub fn new(what: impl Into<String>, total: u64) -> Progress {
        Progress::start(what.into(), Unit::Bytes, total)
    }

    /// Work counted in items (disks re-wrapped, records checked).
    pub fn items(what: impl Into<String>, total: u64) -> Progress {
        Progress::start(what.into(), Unit::Items, total)
    }

    fn start(what: String, unit: Unit, total: u64) -> Progress {
        let min = match unit {
            Unit::Bytes => MIN_BYTES,
            Unit::Items => MIN_ITEMS,
        };
        let nothing = Progress {
            bar: None,
            relayed: None,
        };
        if total < min {
            return nothing;
        }
        if DISABLED.load(Ordering::Relaxed) {
            let Some(relay) = RELAY.lock().clone() else {
                return nothing;
            };
            let relayed = Relayed {
                relay,
                what,
                unit,
                total,
                done: AtomicU64::new(0),
            };
            relayed.send();
            return Progress {
                bar: None,
                relayed: Some(relayed),
            };
        }
        if !std::io::stderr().is_terminal() {
            return nothing;
        }
        Progress {
            bar: Some(bar(what, unit, total)),
            relayed: None,
        }
    }

    /// Whether a bar is shown.
    pub fn shown(&self) -> bool {
        self.bar.is_some()
    }

    /// The work has reached `done` of its total.
    pub fn update(&self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
        if let Some(r) = &self.relayed {
            r.done.store(done, Ordering::Relaxed);
            r.send();
        }
    }

    /// `n` more of the work is done.
    pub fn inc(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
        if let Some(r) = &self.relayed {
            r.done.fetch_add(n, Ordering::Relaxed);
            r.send();
        }
    }
}

impl Drop for Progress {
    /// Clears the bar, so that what the command prints next (its output, or the error that
    /// stopped the work) starts on a clean line.
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if let Some(r) = self.relayed.take() {
            r.relay.set(None);
        }
    }
}

/// A bar on stderr (hidden by indicatif itself off a terminal).
fn bar(what: String, unit: Unit, total: u64) -> ProgressBar {
    let template = match unit {
        Unit::Bytes => "{prefix} [{bar:30}] {binary_bytes}/{binary_total_bytes} ({eta})",
        Unit::Items => "{prefix} [{bar:30}] {pos}/{len} ({eta})",
    };
    // The templates are constants: a bad one is a bug, shown as the default style.
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("#>-");
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
        .with_style(style)
        .with_prefix(what);
    bar.tick();
    bar
}

/// Whether this process's caller would see a bar: stderr is a terminal (asked of the daemon
/// for a forwarded command).
pub fn wanted() -> bool {
    !DISABLED.load(Ordering::Relaxed) && std::io::stderr().is_terminal()
}

/// The caller's side of relayed progress: draws the daemon's updates as local bars.
#[derive(Default)]
pub struct Mirror {
    current: Option<(String, ProgressBar)>,
}

impl Mirror {
    /// Shows `update` (`None`: the work ended).
    pub fn show(&mut self, update: Option<Update>) {
        match update {
            Some(u) => {
                if self
                    .current
                    .as_ref()
                    .is_none_or(|(what, _)| *what != u.what)
                {
                    self.clear();
                    self.current = Some((u.what.clone(), bar(u.what.clone(), u.unit, u.total)));
                }
                if let Some((_, bar)) = &self.current {
                    bar.set_position(u.done);
                }
            }
            None => self.clear(),
        }
    }

    fn clear(&mut self) {
        if let Some((_, bar)) = self.current.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_shown_off_a_terminal_or_for_small_work() {
        // Test harnesses capture stderr: not a terminal.
        let p = Progress::new("copying", 1 << 30);
        p.update(1 << 29);
        assert!(!p.shown());
        assert!(!Progress::items("checking", 1000).shown());
        assert!(!Progress::new("copying", 1 << 20).shown());
    }

    #[test]
    fn a_relay_hands_each_change_out_once() {
        let relay = Relay::default();
        assert!(relay.take_changes().is_empty());
        let u = Update {
            what: "copying".into(),
            unit: Unit::Bytes,
            total: 10,
            done: 5,
        };
        relay.set(Some(u.clone()));
        relay.set(Some(u.clone()));
        assert_eq!(relay.take_changes(), vec![Some(u.clone())]);
        assert!(relay.take_changes().is_empty());
        relay.set(None);
        assert_eq!(relay.take_changes(), vec![None]);
        // Work that starts and ends between two calls still hands out its last state.
        relay.set(Some(u.clone()));
        relay.set(None);
        assert_eq!(relay.take_changes(), vec![Some(u), None]);
        assert!(relay.take_changes().is_empty());
    }
}
