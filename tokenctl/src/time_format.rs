//! Moments and durations as people and scripts read them.

use std::time::Duration;

use oauth_lifecycle::time::format_description::well_known::Rfc3339;
use oauth_lifecycle::time::UtcDateTime;

/// RFC 3339 in UTC, to the second: `2026-11-24T08:00:00Z`.
pub(crate) fn rfc3339(moment: UtcDateTime) -> String {
    let moment = moment.replace_nanosecond(0).unwrap_or(moment);
    moment
        .format(&Rfc3339)
        .unwrap_or_else(|_| moment.to_string())
}

/// A span as `1h2m3s`, `4m`, `12s`, `0s`; negative spans as `-5s`.
pub(crate) fn span(seconds: i64) -> String {
    if seconds < 0 {
        return format!("-{}", span(seconds.saturating_neg()));
    }
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// Reads a duration as written on a command line: `90`, `90s`, `5m`, `1h30m`, `2d`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => {
                return Err(format!(
                    "`{text}`: units are s, m, h and d (e.g. 5m, 1h30m)"
                ))
            }
        };
        let value: u64 = digits
            .parse()
            .map_err(|_| format!("`{text}`: a number must come before each unit"))?;
        digits.clear();
        total = value
            .checked_mul(unit)
            .and_then(|part| total.checked_add(part))
            .filter(|total| *total <= 365 * 86_400)
            .ok_or_else(|| format!("`{text}`: longer than a year"))?;
    }
    if !digits.is_empty() {
        return Err(format!("`{text}`: a unit must follow the last number"));
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_written() {
        let table: &[(&str, Option<u64>)] = &[
            ("90", Some(90)),
            ("90s", Some(90)),
            ("5m", Some(300)),
            ("1h30m", Some(5400)),
            ("2d", Some(172_800)),
            ("0s", Some(0)),
            ("", None),
            ("5", Some(5)),
            ("m", None),
            ("5x", None),
            ("1h30", None),
            ("-5m", None),
            ("999999999999999999999s", None),
            ("400d", None),
        ];
        for (text, expected) in table {
            assert_eq!(
                parse_duration(text).ok().map(|d| d.as_secs()),
                *expected,
                "{text:?}"
            );
        }
    }

    #[test]
    fn spans_read_back() {
        assert_eq!(span(0), "0s");
        assert_eq!(span(3723), "1h2m3s");
        assert_eq!(span(240), "4m");
        assert_eq!(span(-5), "-5s");
        assert_eq!(span(i64::MIN), "-2562047788015215h30m7s");
    }
}
