//! UTC timestamps from `std::time`, without a date-time crate.

use std::time::{SystemTime, UNIX_EPOCH};

/// A UTC civil date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcDateTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl UtcDateTime {
    /// The civil time of `time` (times before 1970 clamp to the epoch).
    pub fn from_system_time(time: SystemTime) -> Self {
        let secs = time
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0) as i64;
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (year, month, day) = civil_from_days(days);
        Self {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
        }
    }

    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// `YYYYMMDD-HHMMSS`, sortable, for folder names.
    pub fn compact(&self) -> String {
        format!(
            "{:04}{:02}{:02}-{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// RFC 3339 in UTC, e.g. `2026-11-26T07:34:40Z`.
    pub fn rfc3339(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// Seconds since the Unix epoch as a float, the `wall_time` of log lines.
pub fn unix_seconds(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (y, m, d).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> UtcDateTime {
        UtcDateTime::from_system_time(UNIX_EPOCH + Duration::from_secs(secs))
    }

    #[test]
    fn known_dates_convert() {
        assert_eq!(at(0).rfc3339(), "1970-01-01T00:00:00Z");
        // `date -u -d @951782400` = 2000-02-29 00:00:00 (leap day).
        assert_eq!(at(951_782_400).rfc3339(), "2000-02-29T00:00:00Z");
        // `date -u -d @1795678480` = 2026-11-26 07:34:40.
        assert_eq!(at(1_795_678_480).compact(), "20261126-073440");
        assert_eq!(at(1_795_678_480).rfc3339(), "2026-11-26T07:34:40Z");
        // End of a non-leap year.
        assert_eq!(at(1_767_225_599).rfc3339(), "2025-12-31T23:59:59Z");
    }
}
