//! The renewals a resource server's 401s cause: measured from the rejected token's age,
//! spaced longer for each further token rejected young, never later than the token's own
//! refresh moment, a handful under a storm, and said in the status.

use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::time::{Duration, UtcDateTime};
use oauth_lifecycle::{Driver, Policy, Status, WaitReason};
use oauth_lifecycle_testkit::{token_answer, Clocked};
use proptest::prelude::*;
use time::macros::utc_datetime;

const START: UtcDateTime = utc_datetime!(2026-09-01 00:00:00);

fn policy() -> Policy {
    let mut policy = Policy::default();
    policy.jitter_fraction = 0.0;
    // The token endpoint's own budget is not what these tests are about.
    policy.token_request_budget =
        oauth_lifecycle::RequestBudget::per_window(1024, Duration::SECOND);
    policy
}

/// A session whose token endpoint answers every request at once with a token of
/// `lifetime`, on a clock the test moves.
struct Sim(Clocked<Standard>);

impl Sim {
    fn new(lifetime: Duration, policy: Policy) -> Self {
        let dialect = Standard::builder("http://127.0.0.1/token", "client")
            .client_secret("client-secret")
            .build()
            .unwrap();
        let seconds = lifetime.whole_seconds();
        let driver = Driver::new(dialect, policy).unwrap();
        Sim(Clocked::start(driver, START, move |_, _, n| {
            token_answer(n, seconds)
        }))
    }

    fn issued_at(&self) -> UtcDateTime {
        self.0.driver.session().tokens().unwrap().issued_at()
    }

    fn refresh_at(&self) -> UtcDateTime {
        self.0.driver.session().tokens().unwrap().refresh_at()
    }

    fn renewals(&self) -> usize {
        self.0.sent.len() - 1
    }
}

impl std::ops::Deref for Sim {
    type Target = Clocked<Standard>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Sim {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

#[test]
fn a_thousand_reports_in_ten_seconds_cause_a_handful_of_requests() {
    for lifetime in [10, 60, 3600].map(Duration::seconds) {
        for cap in [30, 5, 0].map(Duration::seconds) {
            let mut policy = policy();
            policy.unauthorized_renewal_spacing = cap;
            let mut sim = Sim::new(lifetime, policy);
            for n in 1..=1000 {
                sim.advance(START + Duration::milliseconds(10 * n));
                sim.report_unauthorized();
            }
            // Renewals when the rejected tokens are 1, 2 and 4 s old (at 1, 3 and 7 s),
            // or one per second under a zero cap (every token is old enough at once).
            let most = if cap.is_zero() { 1000 } else { 3 };
            let renewals = sim.renewals();
            assert!(
                renewals <= most,
                "{lifetime} tokens, cap {cap}: {renewals} renewals in ten seconds"
            );
            assert!(renewals >= 3, "{lifetime}, cap {cap}: renewal stopped");
        }
    }
}

/// The scenario: 10-s tokens revoked on the server at 15 s and at 25 s, a call
/// every 50 ms. A second revocation soon after the first is renewed at once: the service
/// is never without a token for more than the spacing of a young token.
#[test]
fn a_second_revocation_soon_after_the_first_is_renewed_at_once() {
    let mut sim = Sim::new(Duration::seconds(10), policy());
    let mut revoked_through = 0;
    let mut without_token = Duration::ZERO;
    let mut longest = Duration::ZERO;
    let step = Duration::milliseconds(50);
    for n in 1..=900 {
        sim.advance(START + step * n);
        let at = sim.now - START;
        if at == Duration::seconds(15) || at == Duration::seconds(25) {
            // The server revokes every token issued so far.
            revoked_through = sim.sent.len();
        }
        match sim.driver.access_token(sim.now) {
            Some(token) if token.generation().get() as usize <= revoked_through => {
                sim.report_unauthorized()
            }
            Some(_) => {
                without_token = Duration::ZERO;
                continue;
            }
            None => {}
        }
        without_token += step;
        longest = longest.max(without_token);
    }
    assert!(longest <= Duration::SECOND, "without a token for {longest}");
}

#[test]
fn the_status_says_why_a_renewal_waits() {
    let mut sim = Sim::new(Duration::hours(1), policy());
    sim.advance(START + Duration::milliseconds(200));
    sim.report_unauthorized();
    assert_eq!(
        sim.driver.status(),
        Status::Waiting {
            retry_at: START + Duration::SECOND,
            reason: WaitReason::UnauthorizedSpacing,
        }
    );
    sim.advance(START + Duration::SECOND);
    assert_eq!(sim.driver.status(), Status::Ready);
    assert_eq!(sim.renewals(), 1);
}

#[test]
fn a_token_that_lived_to_its_refresh_moment_starts_the_count_again() {
    let mut sim = Sim::new(Duration::hours(1), policy());
    // A storm: five tokens rejected young, the spacing growing to 16 s.
    for _ in 0..5 {
        sim.report_unauthorized();
        let due = sim.driver.next_deadline().unwrap();
        sim.advance(due);
    }
    assert_eq!(sim.renewals(), 5);
    // The storm is over: a token lives to its refresh moment and is renewed then.
    let refresh_at = sim.refresh_at();
    sim.advance(refresh_at);
    assert_eq!(sim.renewals(), 6);
    // A rejection now is a first one again: renewed when the token is 1 s old.
    sim.report_unauthorized();
    assert_eq!(
        sim.driver.next_deadline(),
        Some(sim.issued_at() + Duration::SECOND)
    );
}

proptest! {
    /// A report on a token of any lifetime, at any age: the renewal comes when the token
    /// is old enough (1 s for a first rejection, 2 s for a second in a row), at once if it
    /// already is, and never after the token's own refresh moment.
    #[test]
    fn a_reported_token_is_renewed_by_its_age_and_never_after_its_refresh_moment(
        lifetime in 2_i64..=7200,
        first_age_ms in 0_i64..7_200_000,
        second_age_ms in 0_i64..7_200_000,
    ) {
        let lifetime = Duration::seconds(lifetime);
        let policy = policy();
        let mut sim = Sim::new(lifetime, policy.clone());
        for (streak, age_ms) in [(1, first_age_ms), (2, second_age_ms)] {
            let issued_at = sim.issued_at();
            let refresh_at = sim.refresh_at();
            // An age at which the token is still handed out and not yet due.
            let hard_expiry = sim.driver.session().tokens().unwrap().hard_expiry();
            let window = (refresh_at.min(hard_expiry) - issued_at).whole_milliseconds() as i64;
            let age = Duration::milliseconds(age_ms % window);
            sim.advance(issued_at + age);
            let before = sim.renewals();
            let reported_at = sim.now;
            sim.report_unauthorized();
            let spacing = if age < policy.unauthorized_renewal_spacing {
                policy.unauthorized_spacing(streak)
            } else {
                policy.unauthorized_spacing(1)
            };
            let expected = (issued_at + spacing).min(refresh_at).max(reported_at);
            if expected > reported_at {
                prop_assert_eq!(sim.renewals(), before, "not yet");
                sim.advance(expected - Duration::MILLISECOND);
                prop_assert_eq!(sim.renewals(), before, "not before {}", expected);
                sim.advance(expected);
            }
            prop_assert_eq!(sim.renewals(), before + 1);
            prop_assert_eq!(sim.sent.last().unwrap().0, expected);
            prop_assert!(expected <= refresh_at.max(reported_at));
        }
    }
}
