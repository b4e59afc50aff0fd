//! Moments as servers write them: HTTP dates (`Date`, `Retry-After`) and ISO 8601
//! timestamps. The base of the crate's modules: it imports none of them.

use time::UtcDateTime;

/// Parses an HTTP date (RFC 9110 §5.6.7: IMF-fixdate and the two obsolete forms).
pub(crate) fn parse_http_date(value: &str) -> Option<UtcDateTime> {
    let system = httpdate::parse_http_date(value.trim()).ok()?;
    let since_epoch = system.duration_since(std::time::UNIX_EPOCH).ok()?;
    UtcDateTime::from_unix_timestamp(i64::try_from(since_epoch.as_secs()).ok()?).ok()
}

/// Parses an ISO 8601 / RFC 3339 timestamp, with or without fractional seconds, with `Z`
/// or a numeric offset, into UTC.
pub fn parse_timestamp(value: &str) -> Option<UtcDateTime> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    let value = value.trim();
    time::OffsetDateTime::parse(value, &Rfc3339)
        .or_else(|_| time::OffsetDateTime::parse(value, &Iso8601::DEFAULT))
        .map(|at| at.to_utc())
        // No offset at all: the providers that send these mean UTC.
        .or_else(|_| time::PrimitiveDateTime::parse(value, &Iso8601::DEFAULT).map(|at| at.as_utc()))
        .ok()
}

/// A moment written as RFC 3339 in UTC, to the millisecond (`2026-12-06T09:49:19.257Z`):
/// how the crate's messages print times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rfc3339(pub UtcDateTime);

impl std::fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            at.millisecond()
        )
    }
}

#[cfg(test)]
mod tests {
    use time::macros::utc_datetime;
    use time::Duration;

    use super::*;

    #[test]
    fn moments_print_as_rfc_3339_and_read_back() {
        let at = utc_datetime!(2026-12-06 9:49:19.257_010_562);
        assert_eq!(Rfc3339(at).to_string(), "2026-12-06T09:49:19.257Z");
        assert_eq!(
            parse_timestamp(&Rfc3339(at).to_string()),
            Some(utc_datetime!(2026-12-06 9:49:19.257))
        );
    }

    #[test]
    fn timestamps_parse_with_and_without_fraction_or_offset() {
        let expected = utc_datetime!(2026-04-06 12:34:56);
        assert_eq!(parse_timestamp("2026-04-06T12:34:56Z"), Some(expected));
        assert_eq!(
            parse_timestamp("2026-04-06T12:34:56.789Z"),
            Some(expected + Duration::milliseconds(789))
        );
        assert_eq!(parse_timestamp("2026-04-06T14:34:56+02:00"), Some(expected));
        assert_eq!(parse_timestamp("2026-04-06T12:34:56"), Some(expected));
        assert_eq!(
            parse_timestamp("2026-04-06T12:34:56.5"),
            Some(expected + Duration::milliseconds(500))
        );
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp(""), None);
    }

    #[test]
    fn http_dates_parse() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(utc_datetime!(1994-11-06 08:49:37))
        );
        assert_eq!(parse_http_date("soon"), None);
    }
}
