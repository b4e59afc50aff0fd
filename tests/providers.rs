//! Each provider's whole lifecycle against its emulator, in simulated time: log in, keep
//! fresh, refresh or log in again, survive the provider's quirks, revoke.

mod support;

use oauth_lifecycle::dialect::{Convercus, ConvercusLegacy, ConvirzaV2, ConvirzaV3, TokenLocation};
use oauth_lifecycle::{Error, Event, Policy, Purpose, TokenKind};
use oauth_lifecycle_emulator::{
    ConvercusLegacyServer, ConvercusLegacyServerConfig, ConvirzaV3Server, ConvirzaV3ServerConfig,
    Emulator, InjectedFailure, LegacyTokenShape, StandardServer, StandardServerConfig,
};
use oauth_lifecycle_testkit::{
    convercus, convercus_client, convercus_legacy_builder, convirza_v2, convirza_v3,
    CONVERCUS_REALM,
};
use support::emulated::{Fate, Harness};
use time::macros::utc_datetime;
use time::{Duration, UtcDateTime};

const START: UtcDateTime = utc_datetime!(2026-04-01 08:00:00);
const LOCAL: &str = "http://127.0.0.1:9";

fn v2() -> ConvirzaV2 {
    convirza_v2(LOCAL)
}

fn v2_harness() -> Harness<ConvirzaV2, StandardServer> {
    Harness::new(
        v2(),
        StandardServer::new(StandardServerConfig::convirza_v2()),
        START,
    )
}

#[test]
fn convirza_v2_keeps_a_token_fresh_for_a_day() {
    let mut h = v2_harness();
    assert!(matches!(
        h.events[0],
        Event::TokenIssued { renewal: false, .. }
    ));
    for hour in 1..=24 {
        h.run_until(START + Duration::hours(hour));
        assert_eq!(h.call_api(), Some(200), "hour {hour}");
    }
    // One login, then a refresh at about 80 % of each hour.
    assert_eq!(h.count(Purpose::Login), 1);
    assert!(
        (29..=31).contains(&h.count(Purpose::Refresh)),
        "{:?}",
        h.requests.len()
    );
    assert_eq!(h.server.stats().refresh_token_reuses, 0);
}

#[test]
fn convirza_v2_never_trips_the_rate_limit_by_itself() {
    // A resource server rejecting every token (and the emulator revoking the refresh
    // token with it, so each renewal is a refused refresh and a login). With the default
    // policy, report-driven renewals wait until the token is 1, 2, 4, 8, 16 s old, then
    // `unauthorized_renewal_spacing`: about 17 renewals (each a refused refresh and a
    // login) in 400 s. With no spacing at all, the provider's budget of 10 a minute holds.
    let spacing = Policy::default().unauthorized_renewal_spacing;
    for (spacing, least, most) in [(spacing, 28, 38), (Duration::ZERO, 41, 80)] {
        let mut policy = Policy::default();
        policy.unauthorized_renewal_spacing = spacing;
        let server = StandardServer::new(StandardServerConfig::convirza_v2());
        let mut h = Harness::with_policy(v2(), server, START, policy);
        for _ in 0..200 {
            h.server.revoke_all();
            let _ = h.call_api();
            h.run_until(h.now + Duration::seconds(2));
        }
        assert_eq!(h.server.stats().rate_limited, 0, "the session caused a 429");
        let busiest = h.busiest(Duration::minutes(1));
        assert!(busiest <= 10, "{busiest} in a minute");
        let requests = h.count(Purpose::Login) + h.count(Purpose::Refresh);
        assert!(
            (least..=most).contains(&requests),
            "{requests} token requests in 400 s with a spacing of {spacing}"
        );
    }
}

#[test]
fn convirza_v2_honours_a_429_and_keeps_serving_its_token() {
    for retry_after in [Some("30"), None] {
        let mut h = v2_harness();
        let token = h.driver.access_token(h.now).unwrap().secret().to_owned();
        h.server.fail_next(InjectedFailure::Status {
            status: 429,
            retry_after: retry_after.map(str::to_owned),
        });
        // Renewal falls due at ~48 minutes and meets the 429.
        h.run_until(START + Duration::minutes(50));
        let throttled_at = h
            .requests
            .iter()
            .find(|(_, p)| *p == Purpose::Refresh)
            .map(|(at, _)| *at)
            .unwrap();
        let retry = h.events.iter().find_map(|e| match e {
            Event::RetryScheduled {
                error: Error::Throttled { retry_at, .. },
                ..
            } => Some(*retry_at),
            _ => None,
        });
        let wait = if retry_after.is_some() { 30 } else { 61 };
        assert_eq!(
            retry,
            Some(throttled_at + Duration::seconds(wait)),
            "{retry_after:?}"
        );
        // The still-valid token is served while waiting.
        if h.now < throttled_at + Duration::seconds(wait) {
            assert_eq!(
                h.driver.access_token(h.now).map(|t| t.secret().to_owned()),
                Some(token.clone())
            );
        }
        h.run_until(START + Duration::minutes(55));
        assert_eq!(h.call_api(), Some(200));
        // The single-use refresh token met a 429 and stays unspent by the server, but the
        // session never presents it again: the retry is a login.
        assert_eq!(h.server.stats().refresh_token_reuses, 0);
    }
}

fn keycloak(password: bool) -> Convercus {
    if password {
        convercus(LOCAL)
    } else {
        convercus_client(LOCAL).build().unwrap()
    }
}

fn keycloak_harness(password: bool) -> Harness<Convercus, StandardServer> {
    Harness::new(
        keycloak(password),
        StandardServer::new(StandardServerConfig::keycloak(CONVERCUS_REALM)),
        START,
    )
}

#[test]
fn convercus_client_credentials_renews_by_login_at_80_percent() {
    let mut h = keycloak_harness(false);
    for quarter in 1..=8 {
        h.run_until(START + Duration::minutes(15 * quarter));
        assert_eq!(h.call_api(), Some(200));
    }
    assert_eq!(
        h.count(Purpose::Refresh),
        0,
        "client credentials bring no refresh token"
    );
    let logins: Vec<_> = h.requests.iter().map(|(at, _)| *at).collect();
    for pair in logins.windows(2) {
        let gap = pair[1] - pair[0];
        // 80 % of 1800 s, less at most 5 % jitter.
        assert!(
            gap >= Duration::seconds(1350) && gap <= Duration::seconds(1440),
            "{gap}"
        );
    }
    let tokens = h.driver.session().tokens().unwrap();
    assert!(tokens.extra().id_token.is_some());
    assert_eq!(tokens.extra().not_before_policy, Some(0));
}

#[test]
fn convercus_password_grant_refreshes_and_revokes() {
    let mut h = keycloak_harness(true);
    let session_state = h
        .driver
        .session()
        .tokens()
        .unwrap()
        .extra()
        .session_state
        .clone();
    assert!(session_state.is_some());
    h.run_until(START + Duration::hours(2));
    assert_eq!(h.call_api(), Some(200));
    assert_eq!(h.count(Purpose::Login), 1);
    assert!(h.count(Purpose::Refresh) >= 4);
    let token = h.driver.access_token(h.now).unwrap().secret().to_owned();
    h.driver.revoke(h.now);
    h.drain();
    assert_eq!(h.events.last(), Some(&Event::Revoked));
    assert!(!h.server.is_access_token_valid(&token, h.now));
    // Refresh token first, then the access token (already ended with its family).
    let revocations: Vec<_> = h.requests.iter().rev().take(2).map(|(_, p)| *p).collect();
    assert_eq!(
        revocations,
        [
            Purpose::Revoke(TokenKind::Access),
            Purpose::Revoke(TokenKind::Refresh)
        ]
    );
    assert_eq!(h.server.stats().revocations, 1);
}

#[test]
fn convercus_tracks_the_refresh_token_lifetime() {
    // The realm's refresh tokens die in 20 minutes, before the 24-minute refresh moment:
    // the session logs in instead of spending a dead token.
    let mut config = StandardServerConfig::keycloak(CONVERCUS_REALM);
    config.refresh_token_lifetime = Some(Duration::minutes(20));
    let mut h = Harness::new(keycloak(true), StandardServer::new(config), START);
    h.run_until(START + Duration::hours(3));
    assert_eq!(h.count(Purpose::Refresh), 0);
    assert!(h.count(Purpose::Login) >= 7);
    assert_eq!(h.server.stats().token_requests, h.server.stats().logins);
    assert_eq!(h.call_api(), Some(200));
}

#[test]
fn a_lost_refresh_response_is_followed_by_a_login_not_a_resend() {
    let mut h = keycloak_harness(true);
    h.next_fate = Fate::Answered;
    let due = h.driver.session().tokens().unwrap().refresh_at();
    h.run_until(due - Duration::SECOND);
    h.next_fate = Fate::ResponseLost;
    h.run_until(due + Duration::minutes(1));
    assert_eq!(h.count(Purpose::Refresh), 1);
    assert_eq!(h.count(Purpose::Login), 2, "{:?}", h.requests);
    assert_eq!(h.server.stats().refresh_token_reuses, 0);
    assert_eq!(h.call_api(), Some(200));
}

fn v3() -> ConvirzaV3 {
    convirza_v3(LOCAL)
}

fn v3_harness(config: ConvirzaV3ServerConfig) -> Harness<ConvirzaV3, ConvirzaV3Server> {
    Harness::new(v3(), ConvirzaV3Server::new(config), START)
}

#[test]
fn convirza_v3_sliding_expiry_needs_no_renewal_while_calls_succeed() {
    let mut h = v3_harness(ConvirzaV3ServerConfig::default());
    let user = h
        .driver
        .session()
        .tokens()
        .unwrap()
        .extra()
        .user
        .clone()
        .unwrap();
    assert_eq!(user.user_id, 12345);
    // A call a day for 60 days: the provider slides the token, and so does the session.
    for day in 1..=60 {
        h.run_until(START + Duration::days(day));
        assert_eq!(h.call_api(), Some(200), "day {day}");
    }
    assert_eq!(h.count(Purpose::Login), 1);
    assert_eq!(h.count(Purpose::Refresh), 0);
    let tokens = h.driver.session().tokens().unwrap();
    assert_eq!(tokens.expires_at(), START + Duration::days(67));
}

#[test]
fn convirza_v3_a_late_401_never_spends_the_new_refresh_token() {
    let mut h = v3_harness(ConvirzaV3ServerConfig::default());
    let first = h.driver.access_token(h.now).unwrap().generation();
    // Idle until the refresh at about 80 % of 7 days: a new token and refresh token.
    h.run_until(START + Duration::days(6));
    assert_eq!(h.count(Purpose::Refresh), 1);
    let second = h.driver.access_token(h.now).unwrap().generation();
    assert!(second > first);
    // A call made with the first token comes back 401 only now.
    assert_eq!(
        h.driver.handle_unauthorized(first, h.now),
        oauth_lifecycle::Unauthorized::Stale
    );
    h.drain();
    assert_eq!(h.count(Purpose::Refresh), 1, "the late 401 spent nothing");
    assert_eq!(
        h.driver.access_token(h.now).map(|t| t.generation()),
        Some(second)
    );
    assert_eq!(h.call_api(), Some(200));
    // The next rotation uses the refresh token the server expects, once.
    h.run_until(START + Duration::days(12));
    assert_eq!(h.count(Purpose::Refresh), 2);
    assert_eq!(h.count(Purpose::Login), 1);
    assert_eq!(h.server.stats().refresh_token_reuses, 0);
    assert_eq!(h.call_api(), Some(200));
}

#[test]
fn convirza_v3_refreshes_when_idle_and_on_a_401() {
    let mut h = v3_harness(ConvirzaV3ServerConfig::default());
    // No calls: renewal at about 80 % of 7 days, by refresh.
    h.run_until(START + Duration::days(6));
    assert_eq!(h.count(Purpose::Refresh), 1);
    // The provider ends the session: the API's 401 triggers a refresh, which fails (the
    // family is revoked) and is followed by a login.
    h.server.revoke_all();
    assert_eq!(h.call_api(), Some(401));
    assert_eq!(h.count(Purpose::Refresh), 2);
    assert_eq!(h.count(Purpose::Login), 2);
    assert_eq!(h.call_api(), Some(200));
    assert_eq!(h.server.stats().refresh_token_reuses, 0);
}

#[test]
fn convirza_v3_logs_in_after_a_lost_refresh_response() {
    let mut h = v3_harness(ConvirzaV3ServerConfig::default());
    let due = h.driver.session().tokens().unwrap().refresh_at();
    h.run_until(due - Duration::SECOND);
    h.next_fate = Fate::ResponseLost;
    h.run_until(due + Duration::minutes(5));
    // The server rotated the refresh token; the session never resent the spent one.
    assert_eq!(h.server.stats().refreshes, 1);
    assert_eq!(h.server.stats().refresh_token_reuses, 0);
    assert_eq!(h.count(Purpose::Login), 2);
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::TokenIssued {
            via: Purpose::Login,
            renewal: true,
            ..
        }
    )));
    assert_eq!(h.call_api(), Some(200));
}

#[test]
fn convirza_v3_logs_in_ahead_of_a_dying_refresh_token() {
    // Refresh tokens that die in 3 days, before the ~5.6-day refresh moment.
    let mut config = ConvirzaV3ServerConfig::default();
    config.refresh_token_lifetime = Duration::days(3);
    let mut h = v3_harness(config);
    h.run_until(START + Duration::days(20));
    assert_eq!(
        h.count(Purpose::Refresh),
        0,
        "a dead refresh token was spent"
    );
    assert!(h.count(Purpose::Login) >= 4);
    assert_eq!(h.server.stats().token_requests, h.server.stats().logins);
    assert_eq!(h.call_api(), Some(200));
}

#[test]
fn convirza_v3_revokes_both_tokens() {
    let mut h = v3_harness(ConvirzaV3ServerConfig::default());
    let token = h.driver.access_token(h.now).unwrap().secret().to_owned();
    h.driver.revoke(h.now);
    h.drain();
    assert_eq!(h.events.last(), Some(&Event::Revoked));
    assert!(!h.server.is_access_token_valid(&token, h.now));
    assert_eq!(
        h.requests
            .iter()
            .filter(|(_, p)| matches!(p, Purpose::Revoke(_)))
            .count(),
        2
    );
}

#[test]
fn convirza_v3_never_trips_the_login_rate_limit() {
    let mut h = v3_harness(ConvirzaV3ServerConfig::default());
    for _ in 0..100 {
        h.server.revoke_all();
        let _ = h.call_api();
        h.run_until(h.now + Duration::seconds(3));
    }
    assert_eq!(h.server.stats().rate_limited, 0);
    assert!(h.busiest(Duration::minutes(1)) <= 10);
}

fn legacy(location: TokenLocation) -> ConvercusLegacy {
    convercus_legacy_builder(LOCAL)
        .token_location(location)
        .build()
        .unwrap()
}

#[test]
fn convercus_legacy_logs_in_again_at_80_percent_of_a_day() {
    for (location, shape) in [
        (
            TokenLocation::default(),
            LegacyTokenShape::JsonField("token".into()),
        ),
        (
            TokenLocation::header(http::header::AUTHORIZATION),
            LegacyTokenShape::Header(http::header::AUTHORIZATION),
        ),
    ] {
        let mut config = ConvercusLegacyServerConfig::default();
        config.shape = shape;
        let mut h = Harness::new(legacy(location), ConvercusLegacyServer::new(config), START);
        for hour in (6..=72).step_by(6) {
            h.run_until(START + Duration::hours(hour));
            assert_eq!(h.call_api(), Some(200), "hour {hour}");
        }
        let logins: Vec<_> = h
            .requests
            .iter()
            .map(|(at, p)| {
                assert_eq!(*p, Purpose::Login);
                *at
            })
            .collect();
        assert_eq!(logins.len(), 4, "{logins:?}");
        for pair in logins.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(
                gap >= Duration::hours(18) && gap <= Duration::hours(20),
                "{gap}"
            );
        }
    }
}

#[test]
fn a_standard_profile_configures_a_persons_login_and_names_what_is_missing_or_unused() {
    use oauth_lifecycle::dialect::{Dialect, PersonLogin, Provider, Settings, Standard};
    use oauth_lifecycle::ConfigError;
    let base = Settings::new()
        .with("token_url", "https://auth.example.com/token")
        .with("client_id", "cli");
    let device = Standard::configure(&base.clone().with("grant", "device").with(
        "device_authorization_url",
        "https://auth.example.com/device",
    ))
    .expect("a device profile");
    assert_eq!(device.person_login(), Some(PersonLogin::DeviceCode));
    let browser = Standard::configure(
        &base
            .clone()
            .with("grant", "authorization-code")
            .with("authorization_url", "https://auth.example.com/authorize")
            .with("issuer", "https://auth.example.com")
            .with("iss_parameter", "required"),
    )
    .expect("a browser profile");
    assert_eq!(browser.person_login(), Some(PersonLogin::AuthorizationCode));
    assert!(matches!(
        Standard::configure(&base.clone().with("grant", "device")),
        Err(ConfigError::MissingSetting {
            setting: "device_authorization_url"
        })
    ));
    assert!(matches!(
        Standard::configure(&base.with("authorization_url", "https://auth.example.com/authorize")),
        Err(ConfigError::UnusedSetting { .. })
    ));
}
