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

/// Parses a date and time as az's `--expires` and `--not-before` take them: `2027-12-31`,
/// `2027-12-31T01Z`, `2027-12-31T01:11Z`, `2027-12-31T01:11:59Z` (az's forms), and RFC 3339 with
/// an offset and fractional seconds (`2027-12-31T01:11:59.5+02:00`, what `key show` prints);
/// without a zone the time is UTC. Returns Unix seconds (fractions dropped).
pub fn parse_datetime(text: &str) -> Option<i64> {
    let s = text.trim();
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut secs = days_from_civil(year, month, day) * 86_400;
    let mut rest = &s[10..];
    if let Some(time) = rest.strip_prefix(['T', 't', ' ']) {
        // Hours, then optional :MM and :SS, then optional .fraction.
        let field = |t: &str| -> Option<i64> {
            (t.len() >= 2 && t.as_bytes()[..2].iter().all(u8::is_ascii_digit))
                .then(|| t[..2].parse().ok())
                .flatten()
        };
        let hour = field(time)?;
        let mut t = &time[2..];
        let mut minute = 0;
        let mut second = 0;
        if let Some(m) = t.strip_prefix(':') {
            minute = field(m)?;
            t = &m[2..];
            if let Some(sec) = t.strip_prefix(':') {
                second = field(sec)?;
                t = &sec[2..];
                if let Some(frac) = t.strip_prefix('.') {
                    let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
                    if digits == 0 {
                        return None;
                    }
                    t = &frac[digits..];
                }
            }
        }
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        secs += hour * 3600 + minute * 60 + second;
        rest = t;
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        zone => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 || zone.len() > 6 || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let (h, m): (i64, i64) = (digits[..2].parse().ok()?, digits[2..].parse().ok()?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    Some(secs - offset)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// (year, month, day) to days since 1970-01-01, Howard Hinnant's algorithm (the inverse of
/// [`civil_from_days`]).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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

    #[test]
    fn parses_az_datetimes_and_its_own_output() {
        let t = 1_796_212_800; // 2026-12-02T12:00:00Z
        for s in [
            "2026-12-02T12:00:00Z",
            "2026-12-02T12:00Z",
            "2026-12-02T12Z",
            "2026-12-02T12:00:00+00:00",
            "2026-12-02T14:00:00+02:00",
            "2026-12-02T11:30:00-0030",
            "2026-12-02T12:00:00.123456+00:00",
            "2026-12-02 12:00:00",
            "2026-12-02T12:00:00",
        ] {
            assert_eq!(parse_datetime(s), Some(t), "{s}");
        }
        assert_eq!(parse_datetime("2026-12-02"), Some(t - 12 * 3600));
        assert_eq!(parse_datetime(&rfc3339(t)), Some(t));
        assert_eq!(parse_datetime("2000-02-29"), Some(951_782_400));
        for bad in [
            "",
            "2026",
            "2026-13-01",
            "2026-02-30",
            "2027-02-29",
            "2026-12-02T24:00Z",
            "2026-12-02T12:60Z",
            "2026-12-02T1Z",
            "2026-12-02T12:00:00.Z",
            "2026-12-02X",
            "2026-12-02T12:00+2",
            "tomorrow",
            "2026-1-02",
            "+026-12-02",
            "2026-12-02T12:00:00+24:00",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }
}
