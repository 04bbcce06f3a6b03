//! ISO 8601 durations as Key Vault's rotation policies take them (`P30D`, `P1Y6M`, `PT12H`).
//!
//! A duration here is a length of time, not a calendar step, as a .NET `TimeSpan` (which the
//! Key Vault service and its SDKs use) is: `XmlConvert` counts a year as 365 days and a month
//! as 30 days, and so does ssefs. So `P1M` after 31 January is 2 March, and `P1Y` after a
//! 29 February is 28 February of the next year. Weeks (`PnW`) are 7 days.
//!
//! Accepted: `P`, then any of `nY`, `nM`, `nW`, `nD` in that order, then optionally `T` and any
//! of `nH`, `nM`, `nS` in that order; at least one component, whole numbers only, no sign.
//! Letters may be lower case (they are shown upper case).

use crate::error::{Error, Result};

/// Seconds in the units of a duration.
const MINUTE: i64 = 60;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;
/// A month and a year as `XmlConvert.ToTimeSpan` counts them.
const MONTH: i64 = 30 * DAY;
const YEAR: i64 = 365 * DAY;

/// The longest duration accepted: about 1,000 years, far from any overflow when added to a
/// Unix time (and far beyond any key's life).
const MAX_SECS: i64 = 1000 * YEAR;

/// A parsed duration: its text (upper case, as given) and its length in seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsoDuration {
    text: String,
    secs: i64,
}

impl IsoDuration {
    /// Parses `text`; the error names the value and says what is accepted.
    pub fn parse(text: &str) -> Result<IsoDuration> {
        let shown: String = text
            .chars()
            .take(40)
            .flat_map(char::escape_default)
            .collect();
        let bad = |why: &str| {
            Error::invalid(format!(
                "'{shown}' is not an ISO 8601 duration ({why}); use for example P30D, P1Y, P6M, P2W or PT12H"
            ))
        };
        let upper = text.trim().to_ascii_uppercase();
        let rest = upper
            .strip_prefix('P')
            .ok_or_else(|| bad("it must start with P"))?;
        let (date, time) = match rest.split_once('T') {
            Some((_, "")) => {
                return Err(bad("T must be followed by hours, minutes or seconds"));
            }
            Some((d, t)) => (d, Some(t)),
            None => (rest, None),
        };
        let mut secs: i64 = 0;
        let mut components = 0;
        for (part, units) in [
            (
                date,
                &[('Y', YEAR), ('M', MONTH), ('W', WEEK), ('D', DAY)][..],
            ),
            (
                time.unwrap_or(""),
                &[('H', HOUR), ('M', MINUTE), ('S', 1)][..],
            ),
        ] {
            let mut next_unit = 0;
            let mut digits = String::new();
            for c in part.chars() {
                if c.is_ascii_digit() {
                    digits.push(c);
                    continue;
                }
                let Some(pos) = units[next_unit..].iter().position(|(u, _)| *u == c) else {
                    return Err(bad(if units.iter().any(|(u, _)| *u == c) {
                        "components must be in the order Y M W D T H M S, each once"
                    } else {
                        "only whole numbers of Y, M, W, D, H, M and S are accepted"
                    }));
                };
                if digits.is_empty() {
                    return Err(bad("each unit needs a number before it"));
                }
                let n: i64 = digits.parse().map_err(|_| bad("a number is too large"))?;
                let unit = units[next_unit + pos].1;
                secs = n
                    .checked_mul(unit)
                    .and_then(|s| secs.checked_add(s))
                    .filter(|s| *s <= MAX_SECS)
                    .ok_or_else(|| bad("it is longer than 1000 years"))?;
                next_unit += pos + 1;
                digits.clear();
                components += 1;
            }
            if !digits.is_empty() {
                return Err(bad("a number must be followed by its unit"));
            }
        }
        if components == 0 {
            return Err(bad("it has no component"));
        }
        Ok(IsoDuration { text: upper, secs })
    }

    /// The duration as given (upper case).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Its length in seconds (years of 365 days, months of 30).
    pub fn secs(&self) -> i64 {
        self.secs
    }

    /// Its length in whole days, for messages.
    pub fn days(&self) -> i64 {
        self.secs / DAY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_combinations() {
        let d = |s: &str| IsoDuration::parse(s).unwrap().secs();
        assert_eq!(d("P30D"), 30 * DAY);
        assert_eq!(d("P1Y"), 365 * DAY);
        assert_eq!(d("P6M"), 180 * DAY);
        assert_eq!(d("P2W"), 14 * DAY);
        assert_eq!(d("PT12H"), 12 * HOUR);
        assert_eq!(d("PT90M"), 90 * MINUTE);
        assert_eq!(d("PT45S"), 45);
        assert_eq!(
            d("P1Y2M3DT4H5M6S"),
            YEAR + 2 * MONTH + 3 * DAY + 4 * HOUR + 5 * MINUTE + 6
        );
        assert_eq!(d("p7d"), 7 * DAY);
        assert_eq!(IsoDuration::parse("p7d").unwrap().text(), "P7D");
        // M is months before T and minutes after it.
        assert_eq!(d("P1M"), MONTH);
        assert_eq!(d("PT1M"), MINUTE);
    }

    #[test]
    fn malformed_durations_are_refused() {
        for bad in [
            "",
            "P",
            "PT",
            "30D",
            "P30",
            "PD",
            "P-1D",
            "P1.5D",
            "P1D2Y",
            "P1DT",
            "P1H",
            "PT1D",
            "P1D1D",
            "P 1D",
            "P99999999999999999999D",
            "P1001Y",
            "PT1H2H",
            "D30P",
            "P1DX",
        ] {
            assert!(IsoDuration::parse(bad).is_err(), "{bad} accepted");
        }
        let e = IsoDuration::parse("P1.5D").unwrap_err().to_string();
        assert!(e.contains("P1.5D") && e.contains("P30D"), "{e}");
    }
}
