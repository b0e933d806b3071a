//! Calendar dates from seconds since the epoch, in UTC whatever TZ says: `init` dates a
//! resolution with one, `build` stamps the image config with one. Depends on nothing.

/// Days since 1970-01-01 as `YYYY-MM-DD` (proleptic Gregorian, Howard Hinnant's algorithm).
pub fn civil_date(days: u64) -> String {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch.
pub fn rfc3339(epoch: u64) -> String {
    let secs = epoch % 86_400;
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        civil_date(epoch / 86_400),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::{civil_date, rfc3339};

    #[test]
    fn days_since_the_epoch_as_dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(19_782), "2024-02-29");
        assert_eq!(civil_date(20_418), "2025-11-26");
        assert_eq!(civil_date(20_783), "2026-11-26");
    }

    #[test]
    fn seconds_since_the_epoch_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
