//! UTC timestamps without a date crate: the civil date of a Unix time (Howard Hinnant's `civil_from_days` and
//! `days_from_civil`), as RFC 3339 and back, for the functions and the local API (pure: the caller reads the clock).

/// `secs` since the epoch as civil UTC: year, month, day, hour, minute, second.
pub fn civil(secs: u64) -> (i64, u32, u32, u64, u64, u64) {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// `ms` since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn rfc3339_ms(ms: u64) -> String {
    let (y, m, d, hh, mm, ss) = civil(ms / 1000);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{:03}Z", ms % 1000)
}

/// `secs` since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(secs: u64) -> String {
    let (y, m, d, hh, mm, ss) = civil(secs);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// `YYYY-MM-DDTHH:MM:SS(.fff)Z` as seconds since the epoch; `None` for anything else.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, dd) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.split(':');
    let (h, mi) = (t.next()?.parse::<i64>().ok()?, t.next()?.parse::<i64>().ok()?);
    let sec = t.next()?.split('.').next()?.parse::<i64>().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&dd) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + sec)
}

/// `YYYY-MM-DDTHH:MM:SS(.fff…)(Z|±HH:MM)` (as Okta and PostgreSQL write times) as milliseconds since the epoch;
/// `None` for anything else. Two writings of one instant compare equal here, never as text.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let (main, offset_min) = match s.strip_suffix('Z') {
        Some(main) => (main, 0),
        None => {
            let at = s.len().checked_sub(6)?;
            let (main, offset) = (s.get(..at)?, s.get(at..)?);
            let sign = match offset.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = offset[1..].split_once(':')?;
            let (h, m) = (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?);
            if h > 23 || m > 59 {
                return None;
            }
            (main, sign * (h * 60 + m))
        }
    };
    let (whole, fraction) = main.split_once('.').unwrap_or((main, ""));
    if !fraction.chars().all(|c| c.is_ascii_digit()) || (main.contains('.') && fraction.is_empty()) {
        return None;
    }
    let millis = format!("{:0<3}", &fraction[..fraction.len().min(3)]).parse::<i64>().ok()?;
    let secs = parse_rfc3339(&format!("{whole}Z"))?;
    Some(secs * 1000 + millis - offset_min * 60_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_compare_whatever_their_writing() {
        let okta = parse_rfc3339_ms("2026-12-07T12:00:00.000Z").unwrap();
        assert_eq!(parse_rfc3339_ms("2026-12-07T12:00:00+00:00"), Some(okta), "PostgreSQL's writing");
        assert_eq!(parse_rfc3339_ms("2026-12-07T13:00:00+01:00"), Some(okta));
        assert_eq!(parse_rfc3339_ms("2026-12-07T12:00:00.5Z"), Some(okta + 500));
        assert_eq!(parse_rfc3339_ms("2026-12-07T12:00:00.123456+00:00"), Some(okta + 123));
        assert_eq!(parse_rfc3339_ms("9999-12-31T23:59:59.999Z").map(|t| t > okta), Some(true));
        for bad in ["2026-12-07T12:00:00", "2026-12-07T12:00:00.Z", "2026-12-07T12:00:00+0000", "2026-12-07 12:00Z", ""]
        {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(1_765_000_000), (2025, 12, 6, 5, 46, 40));
        assert_eq!(rfc3339_ms(1_765_000_000_123), "2025-12-06T05:46:40.123Z");
        assert_eq!(parse_rfc3339("2025-12-06T05:46:40.123Z"), Some(1_765_000_000));
        assert_eq!(parse_rfc3339(&rfc3339(951_782_400)), Some(951_782_400)); // 2000-02-29
        assert_eq!(parse_rfc3339("2025-13-01T00:00:00Z"), None);
    }
}
