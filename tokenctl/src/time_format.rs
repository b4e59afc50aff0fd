//! Moments and durations as people and scripts read them: RFC 3339 everywhere; in UTC
//! (`Z`) where a program reads it (JSON, the `.failure` record), in local time with its
//! offset where a person does (messages, `inspect`, `watch`). When the local offset is
//! unknown, local time is UTC.

use std::time::Duration;

use oauth_lifecycle::time::format_description::well_known::Rfc3339;
use oauth_lifecycle::time::{OffsetDateTime, UtcDateTime, UtcOffset};

/// RFC 3339 in UTC, to the second: `2026-11-24T08:00:00Z`. For programs.
pub(crate) fn rfc3339(moment: UtcDateTime) -> String {
    format(moment, UtcOffset::UTC, false)
}

/// RFC 3339 in local time, to the second: `2026-11-24T09:00:00+01:00`. For people.
pub(crate) fn local(moment: UtcDateTime) -> String {
    format(moment, local_offset(moment), false)
}

/// The local time of day, `09:00:01`, for lines that carry no date.
pub(crate) fn local_clock(moment: UtcDateTime) -> String {
    let at = moment.to_offset(local_offset(moment));
    format!("{:02}:{:02}:{:02}", at.hour(), at.minute(), at.second())
}

/// Reads an RFC 3339 moment (any offset) back, as written by [`rfc3339`] or [`local`].
pub(crate) fn parse_rfc3339(text: &str) -> Option<UtcDateTime> {
    OffsetDateTime::parse(text.trim(), &Rfc3339)
        .ok()
        .map(OffsetDateTime::to_utc)
}

/// `moment` at `offset`, to the second, or to the millisecond with `millis`.
fn format(moment: UtcDateTime, offset: UtcOffset, millis: bool) -> String {
    let nanos = if millis {
        moment.millisecond() as u32 * 1_000_000
    } else {
        0
    };
    let moment = moment.replace_nanosecond(nanos).unwrap_or(moment);
    moment
        .to_offset(offset)
        .format(&Rfc3339)
        .unwrap_or_else(|_| moment.to_string())
}

/// The offset of local time from UTC at `moment` (daylight saving time included), read
/// from `TZ` or `/etc/localtime` as the C library would, but without its thread-safety
/// problems. UTC when none can be read; whole minutes only, as RFC 3339 writes them.
fn local_offset(moment: UtcDateTime) -> UtcOffset {
    use chrono::{Offset as _, TimeZone as _};
    let Some(utc) = chrono::DateTime::from_timestamp(moment.unix_timestamp(), 0) else {
        return UtcOffset::UTC;
    };
    let seconds = chrono::Local
        .offset_from_utc_datetime(&utc.naive_utc())
        .fix()
        .local_minus_utc();
    UtcOffset::from_whole_seconds(seconds / 60 * 60).unwrap_or(UtcOffset::UTC)
}

/// `text` (a message of the core, a field of its traces) with every moment in it written
/// again in local time: RFC 3339 in UTC (`2026-12-06T09:49:19.257Z`), and the time
/// crate's own display (`2026-12-06 9:49:19.257010562 +00`). A fraction of a second is
/// kept to the millisecond. Everything else is left as it is.
pub(crate) fn localize(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(start) = next_date(rest) {
        let (before, candidate) = rest.split_at(start);
        out.push_str(before);
        match moment_at(candidate) {
            Some((moment, fraction, length)) => {
                out.push_str(&format(moment, local_offset(moment), fraction));
                rest = &candidate[length..];
            }
            None => {
                // Not a moment after all: keep its first character and look further.
                let first = candidate.chars().next().map_or(1, char::len_utf8);
                out.push_str(&candidate[..first]);
                rest = &candidate[first..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Where the next `YYYY-MM-DD` not inside a longer run of digits starts in `text` (a
/// letter may come just before it: the end of a terminal's colour code).
fn next_date(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    (0..bytes.len()).find(|&i| {
        let shape = b"0000-00-00";
        bytes.len() >= i + shape.len()
            && (i == 0 || !bytes[i - 1].is_ascii_digit())
            && shape
                .iter()
                .enumerate()
                .all(|(k, expected)| match expected {
                    b'0' => bytes[i + k].is_ascii_digit(),
                    other => bytes[i + k] == *other,
                })
    })
}

/// The moment `text` starts with, whether it had a fraction of a second, and how many
/// bytes it took.
fn moment_at(text: &str) -> Option<(UtcDateTime, bool, usize)> {
    let mut cursor = Cursor { text, at: 0 };
    let year = cursor.digits(4, 4)?;
    cursor.expect(b'-')?;
    let month = cursor.digits(2, 2)?;
    cursor.expect(b'-')?;
    let day = cursor.digits(2, 2)?;
    // RFC 3339 (`T`, two-digit hour) or the time crate's display (a space, and an hour
    // without padding).
    let rfc = match cursor.next()? {
        b'T' => true,
        b' ' => false,
        _ => return None,
    };
    let hour = if rfc {
        cursor.digits(2, 2)?
    } else {
        cursor.digits(1, 2)?
    };
    cursor.expect(b':')?;
    let minute = cursor.digits(2, 2)?;
    cursor.expect(b':')?;
    let second = cursor.digits(2, 2)?;
    let mut nanos = 0u32;
    let mut fraction = false;
    if cursor.peek() == Some(b'.') {
        cursor.at += 1;
        let start = cursor.at;
        while cursor.peek().is_some_and(|b| b.is_ascii_digit()) {
            cursor.at += 1;
        }
        let digits = &text[start..cursor.at];
        if digits.is_empty() {
            return None;
        }
        let padded: String = digits
            .chars()
            .chain(std::iter::repeat('0'))
            .take(9)
            .collect();
        nanos = padded.parse().ok()?;
        fraction = nanos >= 1_000_000;
    }
    let offset_seconds: i32 = if rfc {
        match cursor.next()? {
            b'Z' => 0,
            sign @ (b'+' | b'-') => {
                let hours = cursor.digits(2, 2)? as i32;
                cursor.expect(b':')?;
                let minutes = cursor.digits(2, 2)? as i32;
                let seconds = hours * 3600 + minutes * 60;
                if sign == b'-' {
                    -seconds
                } else {
                    seconds
                }
            }
            _ => return None,
        }
    } else {
        cursor.expect(b' ')?;
        let sign = cursor.next()?;
        if sign != b'+' && sign != b'-' {
            return None;
        }
        let mut seconds = cursor.digits(2, 2)? as i32 * 3600;
        for unit in [60, 1] {
            let save = cursor.at;
            if cursor.expect(b':').is_some() {
                match cursor.digits(2, 2) {
                    Some(value) => seconds += value as i32 * unit,
                    None => {
                        cursor.at = save;
                        break;
                    }
                }
            } else {
                break;
            }
        }
        if sign == b'-' {
            -seconds
        } else {
            seconds
        }
    };
    // The moment must end here: not run into a word or a number.
    if cursor.peek().is_some_and(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    use oauth_lifecycle::time::{Date, Month, PrimitiveDateTime, Time};
    let date = Date::from_calendar_date(
        year as i32,
        Month::try_from(u8::try_from(month).ok()?).ok()?,
        u8::try_from(day).ok()?,
    )
    .ok()?;
    let time = Time::from_hms_nano(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
        nanos,
    )
    .ok()?;
    let offset = UtcOffset::from_whole_seconds(offset_seconds).ok()?;
    let moment = PrimitiveDateTime::new(date, time)
        .assume_offset(offset)
        .to_utc();
    Some((moment, fraction, cursor.at))
}

struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// Between `min` and `max` digits, as a number.
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.at;
        while self.at - start < max && self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        if self.at - start < min {
            return None;
        }
        self.text[start..self.at].parse().ok()
    }
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

    /// 2026-12-06 09:49:19 UTC, and `nanos`.
    fn moment(nanos: u32) -> UtcDateTime {
        UtcDateTime::from_unix_timestamp(1_796_550_559)
            .unwrap()
            .replace_nanosecond(nanos)
            .unwrap()
    }

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

    #[test]
    fn moments_print_as_rfc_3339() {
        let at = moment(257_010_562);
        assert_eq!(rfc3339(at), "2026-12-06T09:49:19Z");
        assert_eq!(
            format(at, UtcOffset::from_hms(5, 30, 0).unwrap(), false),
            "2026-12-06T15:19:19+05:30"
        );
        assert_eq!(
            format(at, UtcOffset::from_hms(-3, 0, 0).unwrap(), true),
            "2026-12-06T06:49:19.257-03:00"
        );
        assert_eq!(
            parse_rfc3339("2026-12-06T15:19:19+05:30"),
            Some(at.replace_nanosecond(0).unwrap())
        );
    }

    /// Every form of a moment the core and the time crate print is found and rewritten;
    /// the rest of the text, and things that only look like moments, are kept.
    #[test]
    fn moments_in_text_are_found_in_every_form() {
        let at = moment(257_010_562);
        let shown = at.to_string();
        assert!(shown.starts_with("2026-12-06 9:49:19.25701"), "{shown}");
        let table = [
            format!("valid_until={shown} next"),
            format!("retry_at=Some({shown})"),
            "retrying at 2026-12-06T09:49:19.257Z; then".to_owned(),
            "until 2026-12-06T10:49:19.257+01:00.".to_owned(),
        ];
        for text in &table {
            let found = next_date(text).expect(text);
            let (moment, fraction, _) = moment_at(&text[found..]).expect(text);
            assert_eq!(
                moment.replace_nanosecond(0),
                at.replace_nanosecond(0),
                "{text}"
            );
            assert!(fraction, "{text}");
            // Rewritten as RFC 3339, the same moment to the millisecond.
            let localized = localize(text);
            assert!(!localized.contains(" +00"), "{localized}");
            let found = next_date(&localized).expect(&localized);
            let (back, _, length) = moment_at(&localized[found..]).expect(&localized);
            assert_eq!(
                back,
                at.replace_nanosecond(257_000_000).unwrap(),
                "{localized}"
            );
            assert!(parse_rfc3339(&localized[found..found + length]).is_some());
        }
        assert_eq!(localize("retry_at=Some(x)"), "retry_at=Some(x)");
        for kept in [
            "12026-12-06T09:49:19Z",
            "2026-12-06",
            "2026-13-06T09:49:19Z",
            "2026-12-06T09:49:19Zulu",
            "token 2026-12-06 nothing",
            "é2026-12-06T09:49:",
            "12:2026-12-06T09:49:61Z",
        ] {
            assert_eq!(localize(kept), kept);
        }
        // A whole second stays whole.
        let whole = "at 2026-12-06T09:49:19Z.";
        let back = localize(whole);
        assert!(!back.contains('.') || back.ends_with('.'), "{back}");
        assert_eq!(
            parse_rfc3339(back.trim_start_matches("at ").trim_end_matches('.')),
            Some(moment(0))
        );
    }
}
