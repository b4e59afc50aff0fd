//! Pure timing policy: when to refresh, when a token is too old to hand out, how long to
//! back off. No state, no clock: every function takes the moments it needs.

use time::{Duration, UtcDateTime};

use crate::error::ConfigError;

/// When to renew, how to back off and what to accept. [`Policy::default`] gives the
/// documented defaults; every field is public so a caller can tune one and keep the rest.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Policy {
    /// Fraction of the lifetime after which renewal starts. Default `0.8`, the figure
    /// Convercus advises; must lie in `(0, 1]`.
    pub refresh_fraction: f64,
    /// Renewal starts at least this long before expiry, whatever the fraction says.
    /// Default 10 s.
    pub min_margin: Duration,
    /// Upper bound of the deterministic jitter subtracted from the refresh moment, as a
    /// fraction of the lifetime, so a fleet sharing one token spreads its renewals.
    /// Default `0.05`; must lie in `[0, 0.5]`.
    pub jitter_fraction: f64,
    /// Seed of the jitter; give each process its own (a host id, a pid) to spread a fleet.
    /// Default 0.
    pub jitter_seed: u64,
    /// A token is never handed out within this allowance of its expiry, to absorb clock
    /// skew and request latency. Default 5 s.
    pub skew_allowance: Duration,
    /// Lifetime assumed when a token response carries no `expires_in`. Default 1 hour.
    pub default_lifetime: Duration,
    /// First retry delay after a temporary failure; doubles with each consecutive failure.
    /// Default 1 s.
    pub backoff_initial: Duration,
    /// Longest retry delay. Default 5 minutes.
    pub backoff_max: Duration,
    /// A request with no answer after this long is treated as lost. Default 30 s.
    pub response_timeout: Duration,
    /// Largest response body accepted, in bytes. Default 64 KiB.
    pub max_body_bytes: usize,
    /// Longest wait a server's `Retry-After` can impose. A longer one (`4294967295`, a
    /// date in year 9999) is cut to this; a shorter one never shortens the growing
    /// backoff. Default 1 hour: past that an operator should hear about it (the session
    /// reports every retry), not find a client parked until next year.
    pub max_retry_after: Duration,
    /// Longest lifetime a token is believed to have. A server that says "never expires"
    /// (`expires_in` of `2147483647`, `i64::MAX`, a date in year 9999) gets this instead,
    /// so the token is still renewed now and then. Default 30 days.
    pub max_lifetime: Duration,
    /// Largest clock offset a response's `Date` header may claim. A `Date` further from
    /// the caller's clock is implausible: it is ignored for expiry arithmetic and
    /// [`Event::ServerDateIgnored`](crate::Event::ServerDateIgnored) says so. Default 1 hour.
    pub max_clock_offset: Duration,
    /// Youngest a token may be when a scheduled renewal replaces it. With very short
    /// lifetimes (a server issuing 1-second tokens), margins shrink with the lifetime
    /// and renewals happen at most this often. Default 5 s.
    pub min_renewal_interval: Duration,
    /// Youngest a token may be when a reported 401 makes the session renew it, at most.
    /// The rejected token is withdrawn at once all the same; its renewal waits until the
    /// token is 1 s old, then 2 s, 4 s… for each further token rejected young, up to this
    /// cap, and never past the token's own refresh moment. A token revoked on the server
    /// is renewed as soon as it is a second old; a resource server that rejects every
    /// token causes a handful of renewals, then one per this interval, not a
    /// token-endpoint storm. A token that lived this long before its rejection, or a
    /// scheduled renewal, starts the count again. Default 30 s.
    pub unauthorized_renewal_spacing: Duration,
    /// How a login (or a refresh) that the token endpoint rejects is tried again by
    /// itself: slowly, a bounded number of times. See [`RejectedLoginRetry`].
    pub rejected_login_retry: RejectedLoginRetry,
    /// The session's own cap on its token-endpoint requests (logins and refreshes), on top
    /// of any a dialect's provider imposes: a backstop that holds whatever servers answer.
    /// Default 12 per minute.
    pub token_request_budget: RequestBudget,
    /// Attempts per token at a revocation that fails temporarily (a 5xx, a transport
    /// error, a timeout), with the usual backoff between them, before
    /// [`Event::RevocationFailed`](crate::Event::RevocationFailed) gives up on it.
    /// Default 3; at least 1.
    pub revocation_attempts: u32,
    /// Longest a person's login is waited for: a device code's `expires_in` is cut to
    /// it, and a browser login whose redirect has not come back by then ends as
    /// expired. Default 15 minutes: the device grant's usual lifetime, and longer than
    /// a person at a login page takes.
    pub person_login_timeout: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            refresh_fraction: 0.8,
            min_margin: Duration::seconds(10),
            jitter_fraction: 0.05,
            jitter_seed: 0,
            skew_allowance: Duration::seconds(5),
            default_lifetime: Duration::hours(1),
            backoff_initial: Duration::seconds(1),
            backoff_max: Duration::minutes(5),
            response_timeout: Duration::seconds(30),
            max_body_bytes: 64 * 1024,
            max_retry_after: Duration::hours(1),
            max_lifetime: Duration::days(30),
            max_clock_offset: Duration::hours(1),
            min_renewal_interval: Duration::seconds(5),
            unauthorized_renewal_spacing: Duration::seconds(30),
            token_request_budget: RequestBudget::per_window(12, Duration::minutes(1)),
            revocation_attempts: 3,
            rejected_login_retry: RejectedLoginRetry::default(),
            person_login_timeout: Duration::minutes(15),
        }
    }
}

/// Whose secret a login presents: decides how often a rejected login is tried again
/// ([`RejectedLoginRetry`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginCredentials {
    /// The client's own credentials (the client credentials grant, a client assertion):
    /// retrying cannot lock a person out.
    Client,
    /// A person's password (the resource owner password grant): each rejected attempt
    /// may count towards the account's lockout.
    Password,
}

/// How the session tries again, by itself, a login (or a refresh) that the token
/// endpoint rejected: `invalid_client`, `invalid_grant` on a login, a bare 400 or 401.
///
/// A rejection usually needs a person. But a server that restarts rejects too, before it
/// has loaded its clients, and a service has nobody to call
/// [`Driver::login`](crate::Driver::login). So the session waits `first_delay`, then twice
/// that after each further rejection, up to `max_delay`, and never faster than the
/// request budgets allow. Each scheduled attempt is announced with
/// [`Event::RejectedRetryScheduled`](crate::Event::RejectedRetryScheduled), and the
/// status says [`WaitReason::Rejected`](crate::WaitReason::Rejected): alert on either.
/// When the attempts run out, the session stops, as before, until an explicit login or
/// new credentials. An explicit login always tries at once, and starts the count again.
///
/// The defaults differ by [`LoginCredentials`]: a client's own credentials are retried
/// without limit (at most one request an hour once the delay is at its cap), since no
/// person can be locked out by them; a person's password is retried 3 times (after 1, 2
/// and 4 minutes), so that with the first attempt the account sees 4 failures, under the
/// common lockout threshold of 5, and a wrong password is never retried forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RejectedLoginRetry {
    /// Wait before the first automatic attempt after a rejection. Default 1 minute.
    pub first_delay: Duration,
    /// Longest wait between attempts; the wait doubles up to it. Default 1 hour.
    pub max_delay: Duration,
    /// Automatic attempts after a rejection of the client's own credentials; `None` for
    /// no limit (the default).
    pub client_attempts: Option<u32>,
    /// Automatic attempts after a rejection of a login that presents a person's password.
    /// Default `Some(3)`; `Some(0)` never retries a rejected password.
    pub password_attempts: Option<u32>,
}

impl Default for RejectedLoginRetry {
    fn default() -> Self {
        RejectedLoginRetry {
            first_delay: Duration::minutes(1),
            max_delay: Duration::hours(1),
            client_attempts: None,
            password_attempts: Some(3),
        }
    }
}

impl RejectedLoginRetry {
    /// How many automatic attempts a rejection of `credentials` allows; `None` for no limit.
    pub fn attempts(&self, credentials: LoginCredentials) -> Option<u32> {
        match credentials {
            LoginCredentials::Client => self.client_attempts,
            LoginCredentials::Password => self.password_attempts,
        }
    }

    /// The wait after the `rejections`-th consecutive rejection (counting from 1):
    /// `first_delay`, doubling, capped at `max_delay`.
    pub fn delay(&self, rejections: u32) -> Duration {
        let doublings = rejections.saturating_sub(1).min(30);
        self.first_delay
            .saturating_mul(1_i32 << doublings)
            .min(self.max_delay)
    }
}

/// A cap on the session's own token-endpoint requests (logins and refreshes): at most
/// `requests` in any window of length `per`, so the session never trips a provider's
/// rate limit by itself.
///
/// The budget belongs to one session. Several sessions behind one IP address share the
/// provider's limit: give each a share (two sessions under a limit of 10 per minute:
/// `RequestBudget::per_window(5, Duration::minutes(1))` each), or let one session serve them all
/// (share its [`Driver`](crate::Driver) or its token through the fleet store).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestBudget {
    requests: u32,
    per: Duration,
}

impl RequestBudget {
    /// At most `requests` (1 to 1024) in any window of `per` (at least one second).
    pub const fn per_window(requests: u32, per: Duration) -> Self {
        RequestBudget {
            requests: if requests == 0 {
                1
            } else if requests > 1024 {
                1024
            } else {
                requests
            },
            per: if per.whole_seconds() < 1 {
                Duration::SECOND
            } else {
                per
            },
        }
    }

    /// Requests allowed per window.
    pub fn requests(&self) -> u32 {
        self.requests
    }

    /// The window.
    pub fn per(&self) -> Duration {
        self.per
    }
}

/// When the session's recent token-endpoint requests were sent, newest last; never longer
/// than the budget's request count. Boxed, and absent until a budgeted request is sent, so
/// sessions without a budget pay one pointer.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
// A thin pointer, not an inline Vec: every session carries this field.
#[allow(clippy::box_collection)]
pub(crate) struct BudgetLog(Option<Box<Vec<UtcDateTime>>>);

impl BudgetLog {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|sent| sent.is_empty())
    }

    /// The first moment another request fits in `budget`, or `None` if one fits now.
    pub(crate) fn next_slot(&self, budget: &RequestBudget) -> Option<UtcDateTime> {
        let sent = self.0.as_deref()?;
        let limit = budget.requests as usize;
        // The oldest of the last `limit` requests leaves the window at `sent + per`.
        (sent.len() >= limit).then(|| sent[sent.len() - limit].saturating_add(budget.per))
    }

    /// Records a request sent at `at`.
    pub(crate) fn record(&mut self, budget: &RequestBudget, at: UtcDateTime) {
        let limit = budget.requests as usize;
        let sent = self.0.get_or_insert_with(Box::default);
        if sent.len() >= limit {
            sent.drain(..=sent.len() - limit);
        }
        sent.push(at);
    }
}

/// Longest setting accepted for [`Policy::max_lifetime`] and the other long durations:
/// ten years.
pub const MAX_LIFETIME: Duration = Duration::days(3653);

impl Policy {
    /// Checks that every value is in range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |setting, reason| Err(ConfigError::InvalidSetting { setting, reason });
        if !(self.refresh_fraction > 0.0 && self.refresh_fraction <= 1.0) {
            return invalid("refresh_fraction", "must lie in (0, 1]");
        }
        if !(0.0..=0.5).contains(&self.jitter_fraction) {
            return invalid("jitter_fraction", "must lie in [0, 0.5]");
        }
        for (setting, value) in [
            ("min_margin", self.min_margin),
            ("skew_allowance", self.skew_allowance),
        ] {
            if value.is_negative() {
                return invalid(setting, "must not be negative");
            }
        }
        for (setting, value) in [
            ("default_lifetime", self.default_lifetime),
            ("backoff_initial", self.backoff_initial),
            ("response_timeout", self.response_timeout),
            ("max_retry_after", self.max_retry_after),
            ("max_lifetime", self.max_lifetime),
            ("max_clock_offset", self.max_clock_offset),
            ("min_renewal_interval", self.min_renewal_interval),
            ("person_login_timeout", self.person_login_timeout),
        ] {
            if !value.is_positive() {
                return invalid(setting, "must be positive");
            }
            if value > MAX_LIFETIME {
                return invalid(setting, "must not exceed ten years");
            }
        }
        if self.unauthorized_renewal_spacing.is_negative()
            || self.unauthorized_renewal_spacing > MAX_LIFETIME
        {
            return invalid(
                "unauthorized_renewal_spacing",
                "must lie between zero and ten years",
            );
        }
        let retry = &self.rejected_login_retry;
        if !retry.first_delay.is_positive() || retry.max_delay > MAX_LIFETIME {
            return invalid(
                "rejected_login_retry",
                "first_delay must be positive and max_delay at most ten years",
            );
        }
        if retry.max_delay < retry.first_delay {
            return invalid(
                "rejected_login_retry",
                "max_delay must not be shorter than first_delay",
            );
        }
        if self.revocation_attempts == 0 {
            return invalid("revocation_attempts", "must be at least 1");
        }
        if self.default_lifetime > self.max_lifetime {
            return invalid("default_lifetime", "must not exceed max_lifetime");
        }
        if self.backoff_max < self.backoff_initial {
            return invalid("backoff_max", "must not be shorter than backoff_initial");
        }
        Ok(())
    }

    /// The moment renewal should start for a token valid from `issued_at` to `expires_at`:
    /// the earlier of `issued_at + fraction × lifetime` and `expires_at − margin`, minus a
    /// jitter derived from the seed and `token`, and never before
    /// `issued_at + min_renewal_interval`.
    ///
    /// The margin is `min_margin`, shrunk for short lifetimes to the part of the lifetime
    /// the fraction leaves (`(1 − fraction) × lifetime`), so a 10-second token is renewed
    /// after 8 seconds rather than at once.
    pub fn refresh_moment(
        &self,
        issued_at: UtcDateTime,
        expires_at: UtcDateTime,
        token: &[u8],
    ) -> UtcDateTime {
        self.moments(issued_at, expires_at, token).0
    }

    /// The last moment a token valid from `issued_at` to `expires_at` may be handed out:
    /// `skew_allowance` before expiry, shrunk for short lifetimes to half of what the
    /// refresh fraction leaves, so a 1-second token is still handed out for most of its
    /// second.
    pub fn hard_expiry(&self, issued_at: UtcDateTime, expires_at: UtcDateTime) -> UtcDateTime {
        self.moments(issued_at, expires_at, &[]).1
    }

    /// The [refresh moment](Policy::refresh_moment) and the
    /// [hard expiry](Policy::hard_expiry) of one token, computed together in nanoseconds
    /// since the epoch: two conversions each way instead of a calendar sum per step.
    /// Moments past the calendar's ends saturate.
    pub(crate) fn moments(
        &self,
        issued_at: UtcDateTime,
        expires_at: UtcDateTime,
        token: &[u8],
    ) -> (UtcDateTime, UtcDateTime) {
        let nanos = |duration: Duration| duration.whole_nanoseconds();
        // A fraction of the lifetime, rounded to the nanosecond; fractions lie in [0, 1].
        let part = |lifetime: i128, fraction: f64| (lifetime as f64 * fraction + 0.5) as i128;
        let issued = issued_at.unix_timestamp_nanos();
        let expires = expires_at.unix_timestamp_nanos();
        let lifetime = (expires - issued).max(0);
        let by_fraction = issued + part(lifetime, self.refresh_fraction);
        let margin = nanos(self.min_margin).min(part(lifetime, 1.0 - self.refresh_fraction));
        let jitter = part(
            lifetime,
            self.jitter_fraction * unit_interval(self.jitter_seed, token),
        );
        let refresh_at = (by_fraction.min(expires - margin) - jitter)
            .max(issued + nanos(self.min_renewal_interval));
        let allowance =
            nanos(self.skew_allowance).min(part(lifetime, (1.0 - self.refresh_fraction) / 2.0));
        (moment(refresh_at), moment(expires - allowance))
    }

    /// How young a token may be when a reported 401 makes the session renew it, for the
    /// `streak`-th consecutive token rejected young (counting from 1): 1 s, doubling, capped
    /// at [`unauthorized_renewal_spacing`](Policy::unauthorized_renewal_spacing).
    pub fn unauthorized_spacing(&self, streak: u32) -> Duration {
        let doublings = streak.saturating_sub(1).min(30);
        Duration::SECOND
            .saturating_mul(1_i32 << doublings)
            .min(self.unauthorized_renewal_spacing)
    }

    /// Delay before the next attempt after `failures` consecutive temporary failures
    /// (`failures >= 1`): `initial × 2^(failures−1)`, capped, with a deterministic jitter
    /// of up to a quarter of the delay subtracted so a fleet does not retry in lockstep.
    pub fn backoff(&self, failures: u32, salt: u64) -> Duration {
        let exponent = failures.saturating_sub(1).min(30);
        let delay = self
            .backoff_initial
            .checked_mul(1_i32 << exponent)
            .unwrap_or(self.backoff_max)
            .min(self.backoff_max);
        let jitter =
            delay * (0.25 * unit_interval(self.jitter_seed ^ salt, &failures.to_le_bytes()));
        delay - jitter
    }
}

/// The moment `nanos` after the epoch, saturating at the calendar's ends.
fn moment(nanos: i128) -> UtcDateTime {
    UtcDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(if nanos < 0 {
        UtcDateTime::MIN
    } else {
        UtcDateTime::MAX
    })
}

/// A number in `[0, 1)` derived deterministically from `seed` and `bytes`: a
/// multiply-xorshift over 8-byte words, then a SplitMix64 finaliser. Stable across
/// processes and platforms: a fleet given different seeds spreads out; one process always
/// computes the same moment.
///
/// Only the first and last [`JITTER_SAMPLE`] bytes and the length are hashed, so a long
/// JWT costs no more than a short token: its first bytes (the header) are shared by every
/// token a server signs, its last (the signature) are its own, and an opaque token is
/// random throughout.
fn unit_interval(seed: u64, bytes: &[u8]) -> f64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut hash = seed ^ (bytes.len() as u64).wrapping_mul(K);
    let head = &bytes[..bytes.len().min(JITTER_SAMPLE)];
    let tail = &bytes[bytes.len().saturating_sub(JITTER_SAMPLE).max(head.len())..];
    for part in [head, tail] {
        let mut words = part.chunks_exact(8);
        for word in &mut words {
            let mut buf = [0_u8; 8];
            buf.copy_from_slice(word);
            hash = (hash ^ u64::from_le_bytes(buf))
                .wrapping_mul(K)
                .rotate_left(29);
        }
        let mut rest = [0_u8; 8];
        rest[..words.remainder().len()].copy_from_slice(words.remainder());
        hash = (hash ^ u64::from_le_bytes(rest)).wrapping_mul(K);
    }
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^= hash >> 31;
    // 53 significant bits give every representable double in [0, 1).
    (hash >> 11) as f64 / (1_u64 << 53) as f64
}

/// How many bytes at each end of a token the refresh-moment jitter hashes.
const JITTER_SAMPLE: usize = 64;

#[cfg(test)]
mod budget_tests {
    use time::macros::utc_datetime;

    use super::*;

    #[test]
    fn the_log_allows_n_per_window_and_says_when_the_next_fits() {
        let budget = RequestBudget::per_window(3, Duration::minutes(1));
        let start = utc_datetime!(2026-01-01 00:00:00);
        let mut log = BudgetLog::default();
        for second in [0, 10, 20] {
            assert_eq!(log.next_slot(&budget), None);
            log.record(&budget, start + Duration::seconds(second));
        }
        assert_eq!(log.next_slot(&budget), Some(start + Duration::seconds(60)));
        log.record(&budget, start + Duration::seconds(60));
        assert_eq!(log.next_slot(&budget), Some(start + Duration::seconds(70)));
        assert_eq!(log.0.as_ref().map(|sent| sent.len()), Some(3), "bounded");
        assert_eq!(RequestBudget::per_window(0, Duration::ZERO).requests(), 1);
        assert_eq!(
            RequestBudget::per_window(0, Duration::ZERO).per(),
            Duration::SECOND
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::utc_datetime;

    const ISSUED: UtcDateTime = utc_datetime!(2026-01-01 00:00:00);

    fn no_jitter() -> Policy {
        Policy {
            jitter_fraction: 0.0,
            ..Policy::default()
        }
    }

    #[test]
    fn refresh_moment_is_eighty_percent_of_lifetime_by_default() {
        let moment = no_jitter().refresh_moment(ISSUED, ISSUED + Duration::seconds(1800), b"t");
        assert_eq!(moment, ISSUED + Duration::seconds(1440));
    }

    #[test]
    fn margins_scale_down_with_short_lifetimes_and_renewals_keep_a_minimum_interval() {
        // (lifetime, refresh moment, hard expiry), in seconds from issue, without jitter:
        // the margin is min(10 s, 20 % of the lifetime), the skew allowance
        // min(5 s, 10 % of it), and no renewal comes before 5 s.
        let table = [
            (3600, 2880.0, 3595.0),
            (60, 48.0, 55.0),
            (30, 24.0, 27.0),
            (10, 8.0, 9.0),
            (5, 5.0, 4.5),
            (2, 5.0, 1.8),
            (1, 5.0, 0.9),
        ];
        let policy = no_jitter();
        for (lifetime, refresh, hard) in table {
            let expires = ISSUED + Duration::seconds(lifetime);
            let at = |seconds: f64| ISSUED + Duration::seconds_f64(seconds);
            assert_eq!(
                policy.refresh_moment(ISSUED, expires, b"t"),
                at(refresh),
                "refresh moment of a {lifetime} s token"
            );
            assert_eq!(
                policy.hard_expiry(ISSUED, expires),
                at(hard),
                "hard expiry of a {lifetime} s token"
            );
            assert!(
                policy.hard_expiry(ISSUED, expires) > ISSUED,
                "handed out at all"
            );
        }
    }

    #[test]
    fn refresh_moment_never_precedes_the_minimum_interval() {
        let moment = no_jitter().refresh_moment(ISSUED, ISSUED, b"t");
        assert_eq!(moment, ISSUED + Duration::seconds(5));
    }

    #[test]
    fn jitter_is_deterministic_bounded_and_spreads_by_seed() {
        let expires = ISSUED + Duration::hours(1);
        let policy = Policy::default();
        let base = no_jitter().refresh_moment(ISSUED, expires, b"token");
        let moments: Vec<_> = (0..64)
            .map(|seed| {
                Policy {
                    jitter_seed: seed,
                    ..policy.clone()
                }
                .refresh_moment(ISSUED, expires, b"token")
            })
            .collect();
        for moment in &moments {
            assert!(*moment <= base && *moment >= base - Duration::seconds(180));
        }
        let distinct: std::collections::BTreeSet<_> = moments.iter().collect();
        assert!(distinct.len() > 50, "seeds should spread the moments");
        assert_eq!(
            moments[7],
            policy_with_seed(7).refresh_moment(ISSUED, expires, b"token")
        );
    }

    fn policy_with_seed(seed: u64) -> Policy {
        Policy {
            jitter_seed: seed,
            ..Policy::default()
        }
    }

    #[test]
    fn extreme_moments_saturate_instead_of_panicking() {
        let policy = Policy::default();
        let end = UtcDateTime::MAX;
        let start = end - Duration::hours(1);
        assert!(policy.refresh_moment(start, end, b"t") <= end);
        assert_eq!(
            policy.hard_expiry(UtcDateTime::MIN, UtcDateTime::MIN),
            UtcDateTime::MIN
        );
    }

    #[test]
    fn jitter_depends_on_both_ends_and_the_length_of_the_token() {
        let a = unit_interval(1, b"eyJhbGciOiJSUzI1NiJ9.payload.signature-1");
        let b = unit_interval(1, b"eyJhbGciOiJSUzI1NiJ9.payload.signature-2");
        let c = unit_interval(1, b"Xyj");
        let d = unit_interval(1, b"Xyk");
        assert!(a != b && c != d);
        assert!((0.0..1.0).contains(&a) && (0.0..1.0).contains(&c));
        // A long token: its first bytes, its last bytes and its length each count; its
        // middle does not, so the cost stays flat however long the token.
        let token = |first: u8, middle: u8, last: u8, len: usize| {
            let mut token = vec![middle; len];
            token[..JITTER_SAMPLE].fill(b'h');
            token[len - JITTER_SAMPLE..].fill(b's');
            token[0] = first;
            token[len - 1] = last;
            unit_interval(1, &token)
        };
        let base = token(b'a', b'm', b'z', 1000);
        assert_ne!(base, token(b'b', b'm', b'z', 1000));
        assert_ne!(base, token(b'a', b'm', b'y', 1000));
        assert_ne!(base, token(b'a', b'm', b'z', 1001));
        assert_eq!(base, token(b'a', b'n', b'z', 1000));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let policy = Policy::default();
        let first = policy.backoff(1, 0);
        assert!(first <= Duration::seconds(1) && first >= Duration::milliseconds(750));
        let fourth = policy.backoff(4, 0);
        assert!(fourth <= Duration::seconds(8) && fourth >= Duration::seconds(6));
        assert!(policy.backoff(u32::MAX, 0) <= Duration::minutes(5));
    }

    #[test]
    fn validate_refuses_out_of_range_values() {
        assert!(Policy::default().validate().is_ok());
        for bad in [
            Policy {
                refresh_fraction: 0.0,
                ..Policy::default()
            },
            Policy {
                refresh_fraction: f64::NAN,
                ..Policy::default()
            },
            Policy {
                jitter_fraction: 0.9,
                ..Policy::default()
            },
            Policy {
                backoff_initial: Duration::ZERO,
                ..Policy::default()
            },
            Policy {
                skew_allowance: Duration::seconds(-1),
                ..Policy::default()
            },
            Policy {
                backoff_max: Duration::ZERO,
                ..Policy::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
