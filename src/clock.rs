//! Wall-clock time as the records and the audit log show it (RFC 3339, UTC).
//!
//! A test clock: `SSEFS_NOW` (seconds since the epoch) moves the clock, so that tests can pass a
//! soft-delete retention period without waiting 7 days, but only on a store whose setting
//! `test-clock` is true (see [`crate::config`]). The command line (or the mount daemon, for a
//! forwarded command) reads that setting and calls [`set_override`]; nothing here reads the
//! environment by itself, so a release binary on an ordinary store keeps the real clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A process-wide override, set by the mount daemon while it runs a forwarded command whose
/// caller had `SSEFS_NOW` set (the daemon's own environment is not the caller's).
static OVERRIDE: AtomicI64 = AtomicI64::new(i64::MIN);

/// Sets or clears the override.
pub fn set_override(secs: Option<i64>) {
    let secs = secs.map(|s| s.clamp(-MAX_OVERRIDE, MAX_OVERRIDE));
    OVERRIDE.store(secs.unwrap_or(i64::MIN), Ordering::SeqCst);
}

/// The caller's `SSEFS_NOW`, if set to an integer (honoured only where the store allows it).
pub fn env_override() -> Option<i64> {
    std::env::var("SSEFS_NOW")
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        // Far enough from the ends of i64 that date arithmetic on it cannot overflow.
        .map(|secs| secs.clamp(-MAX_OVERRIDE, MAX_OVERRIDE))
}

/// The warning shown when `SSEFS_NOW` is set for a store that does not allow a test clock.
pub const IGNORED_WARNING: &str = "SSEFS_NOW is ignored: this store does not allow a test clock \
     (ssefs config set test-clock true, for test stores only)";

/// The largest override accepted: about the year 292,000, far below i64 overflow territory.
const MAX_OVERRIDE: i64 = 1 << 53;

/// Whether the clock is moved by a test override now (audit entries say so).
pub fn is_overridden() -> bool {
    OVERRIDE.load(Ordering::SeqCst) != i64::MIN
}

/// Seconds since the Unix epoch, or the override.
pub fn now_secs() -> i64 {
    let forced = OVERRIDE.load(Ordering::SeqCst);
    if forced != i64::MIN {
        return forced;
    }
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Now as `YYYY-MM-DDTHH:MM:SS+00:00`, az's form.
pub fn now_rfc3339() -> String {
    rfc3339(now_secs())
}

/// Formats seconds since the epoch as RFC 3339 in UTC.
pub fn rfc3339(secs: i64) -> String {
    let secs = secs.clamp(-MAX_OVERRIDE, MAX_OVERRIDE);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+00:00",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00+00:00");
        assert_eq!(rfc3339(1_796_212_800), "2026-12-02T12:00:00+00:00");
        // Extreme values format without overflow (clamped), never panic.
        assert!(rfc3339(i64::MAX).contains('T'));
        assert!(rfc3339(i64::MIN).contains('T'));
    }
}
