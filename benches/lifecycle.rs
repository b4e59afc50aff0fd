//! Speed and memory of the hot paths, next to the `oauth2` crate doing the same work.
//!
//! Run with `cargo bench --bench lifecycle`. Before the timed runs it prints the size of
//! a session in memory and proves that handing out a token allocates nothing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use criterion::{criterion_group, criterion_main, Criterion};
use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};
use oauth_lifecycle::dialect::{
    Convercus, ConvercusLegacy, ConvirzaV2, ConvirzaV3, Dialect, Environment, Standard,
};
use oauth_lifecycle::token::{Expiry, TokenGrant};
use oauth_lifecycle::{
    AccessToken, Active, AnySession, Driver, Expiring, LoginOutcome, Output, Policy, RefreshToken,
    Refreshing, Session,
};
use time::macros::utc_datetime;
use time::{Duration, UtcDateTime};

/// Counts allocations so the bench can prove a path allocates nothing.
struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is added.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const NOW: UtcDateTime = utc_datetime!(2026-06-01 12:00:00);
const TOKEN_URL: &str = "https://auth.example.com/realms/abc/protocol/openid-connect/token";

/// A Keycloak-style client-credentials response of about 600 bytes.
fn keycloak_body() -> Vec<u8> {
    let jwt = format!(
        "eyJhbGciOiJSUzI1NiIsInR5cCIgOiAiSldUIiwia2lkIiA6ICJrZXkifQ.{}.{}",
        "eyJleHAiOjE3MTAwMDAwMDAsImlhdCI6MTcwOTk5ODIwMCwianRpIjoiYWJjZGVmIiwiaXNzIjoiaHR0cHM6Ly9hdXRoLmV4YW1wbGUuY29tL3JlYWxtcy9hYmMiLCJzdWIiOiJtYWNoaW5lLTItbWFjaGluZSIsInR5cCI6IkJlYXJlciIsImF6cCI6Im1hY2hpbmUtMi1tYWNoaW5lIiwic2NvcGUiOiJvcGVuaWQifQ",
        "c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtc2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"
    );
    format!(
        r#"{{"access_token":"{jwt}","expires_in":1800,"refresh_expires_in":0,"token_type":"Bearer","id_token":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtMm0ifQ.c2ln","not-before-policy":0,"scope":"openid"}}"#
    )
    .into_bytes()
}

fn canned_response() -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(keycloak_body())
        .expect("a valid response")
}

fn dialect() -> Standard {
    Standard::builder(TOKEN_URL, "machine-2-machine")
        .client_secret("bench-secret")
        .scope("openid")
        .build()
        .expect("a valid configuration")
}

fn active() -> Session<Active, Standard> {
    let grant = TokenGrant {
        access_token: AccessToken::new("a".repeat(400)),
        refresh_token: Some(RefreshToken::new("r".repeat(400))),
        expires: Expiry::In(1800),
        refresh_expires: None,
        scope: None,
        extra: (),
    };
    Session::new(dialect(), Policy::default())
        .expect("a valid policy")
        .adopt(grant, NOW)
        .expect("a valid grant")
}

fn report_sizes_and_allocations() {
    println!(
        "size of Session<Active, Standard>:     {} bytes",
        size_of::<Session<Active, Standard>>()
    );
    println!(
        "size of Session<Expiring, Standard>:   {} bytes",
        size_of::<Session<Expiring, Standard>>()
    );
    println!(
        "size of Session<Refreshing, Standard>: {} bytes",
        size_of::<Session<Refreshing, Standard>>()
    );
    println!(
        "size of AnySession<Standard>:          {} bytes",
        size_of::<AnySession<Standard>>()
    );
    println!(
        "size of Driver<Standard>:              {} bytes",
        size_of::<Driver<Standard>>()
    );

    let session = active();
    let driver = Driver::from_session(active().into());
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for i in 0..1_000_000_i64 {
        let now = NOW + Duration::milliseconds(i);
        black_box(session.access_token(black_box(now)));
        black_box(driver.access_token(black_box(now)));
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    println!("allocations in 2,000,000 token hand-outs: {allocations}");
    assert_eq!(allocations, 0, "handing out a token must not allocate");
}

fn access_token(c: &mut Criterion) {
    report_sizes_and_allocations();
    let session = active();
    let any: AnySession<Standard> = active().into();
    let driver = Driver::from_session(active().into());
    let mut group = c.benchmark_group("access_token");
    // The whole hand-out is kept: the secret, its generation and its valid-until moment.
    group.bench_function("session_active", |b| {
        b.iter(|| black_box(black_box(&session).access_token(black_box(NOW))))
    });
    group.bench_function("any_session", |b| {
        b.iter(|| black_box(black_box(&any).access_token(black_box(NOW))))
    });
    group.bench_function("driver", |b| {
        b.iter(|| black_box(black_box(&driver).access_token(black_box(NOW))))
    });
    // What a middleware takes from it: the ready-made header value and the generation.
    group.bench_function("driver_header_and_generation", |b| {
        b.iter(|| {
            black_box(&driver)
                .access_token(black_box(NOW))
                .map(|t| (t.header_value().as_bytes().as_ptr(), t.generation()))
        })
    });
    group.finish();
}

/// One full cycle: build the login request, parse the response, make the transition,
/// hand out the token.
fn cycle<D: Dialect>(dialect: &Arc<D>, response: &http::Response<Vec<u8>>) -> bool {
    let session = Session::new(Arc::clone(dialect), Policy::default()).expect("a valid policy");
    let (logging_in, request) = session.login(NOW).expect("a login request");
    let id = request.id();
    black_box(request.request());
    match logging_in.on_response(id, response, NOW) {
        Ok(LoginOutcome::LoggedIn(active)) => active.access_token(NOW).is_some(),
        _ => false,
    }
}

fn client_credentials_cycle(c: &mut Criterion) {
    // Each side configured once, as an application would; each fed the same canned
    // response through its natural interface: ours borrows it, oauth2's HTTP client
    // closure returns an owned copy.
    let response = canned_response();
    let ours = Arc::new(dialect());
    assert!(cycle(&ours, &response));

    let client = BasicClient::new(ClientId::new("machine-2-machine".into()))
        .set_client_secret(ClientSecret::new("bench-secret".into()))
        .set_token_uri(TokenUrl::new(TOKEN_URL.into()).expect("a valid URL"));
    let http_client =
        |request: oauth2::HttpRequest| -> Result<oauth2::HttpResponse, std::io::Error> {
            black_box(&request);
            Ok(canned_response())
        };
    let theirs = || {
        client
            .exchange_client_credentials()
            .add_scope(Scope::new("openid".into()))
            .request(&http_client)
            .map(|token| !token.access_token().secret().is_empty())
            .unwrap_or(false)
    };
    assert!(theirs());

    let mut group = c.benchmark_group("client_credentials_cycle");
    group.bench_function("oauth_lifecycle", |b| {
        b.iter(|| cycle(&ours, black_box(&response)))
    });
    group.bench_function("oauth2_5_0", |b| b.iter(theirs));
    group.finish();
}

fn driver_lifecycle(c: &mut Criterion) {
    let login = http::Response::new(
        br#"{"access_token":"access-1","refresh_token":"refresh-1","token_type":"Bearer","expires_in":1800}"#
            .to_vec(),
    );
    let refresh = http::Response::new(
        br#"{"access_token":"access-2","refresh_token":"refresh-2","token_type":"Bearer","expires_in":1800}"#
            .to_vec(),
    );
    c.bench_function("driver_login_then_refresh", |b| {
        b.iter(|| {
            let mut driver = Driver::new(password_dialect(), Policy::default()).expect("valid");
            let mut now = NOW;
            driver.handle_timeout(now);
            let mut answered = 0;
            for _ in 0..16 {
                match driver.poll_output() {
                    Output::Request(request) => {
                        let response = if answered == 0 { &login } else { &refresh };
                        driver
                            .handle_response(request.id(), response, now)
                            .expect("in flight");
                        answered += 1;
                        if answered == 2 {
                            break;
                        }
                    }
                    Output::Timeout(at) => {
                        now = at.max(now);
                        driver.handle_timeout(now);
                    }
                    Output::Event(_) | Output::Persist | Output::Idle => {}
                }
            }
            driver.access_token(now).is_some()
        })
    });
}

fn json_response(body: &str) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(body.as_bytes().to_vec())
        .expect("a valid response")
}

fn bench_cycle<D: Dialect>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    dialect: D,
    response: http::Response<Vec<u8>>,
) {
    let dialect = Arc::new(dialect);
    assert!(cycle(&dialect, &response), "{name}: the cycle must log in");
    group.bench_function(name, |b| b.iter(|| cycle(&dialect, black_box(&response))));
}

/// Each dialect's full cycle on its documented response (the standard dialect on the
/// Keycloak-sized body above, the baseline).
fn dialect_cycle(c: &mut Criterion) {
    let mut group = c.benchmark_group("dialect_cycle");
    bench_cycle(&mut group, "standard", dialect(), canned_response());
    bench_cycle(
        &mut group,
        "convirza_v2",
        ConvirzaV2::builder("system", "secret", "user@convirza.com", "password")
            .build()
            .expect("a valid configuration"),
        json_response(
            r#"{"access_token":"946e347b-48ce-41d1-aae6-756ddc552d18","refresh_token":"e46d437e-346b-4de4-a2a3-5f4b610cdfe1","expires_in":3600,"status":"success","token_type":"Bearer"}"#,
        ),
    );
    bench_cycle(
        &mut group,
        "convirza_v3",
        ConvirzaV3::builder("user@example.com", "SecurePassword123!")
            .build()
            .expect("a valid configuration"),
        json_response(
            r#"{"access_token":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbklkIjoiYWJjZDEyMzQtZWY1Ni03ODkwLWFiY2QtMTIzNDU2Nzg5MGFiIiwiaWF0IjoxNzA5NTU1NTU1LCJleHAiOjE3MDk1OTg3NTV9.xyz123","frontend_token":"a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6","refresh_token":"xyz789refresh012345678901234567890","token_type":"Bearer","expires_in":"2026-06-08T12:34:56.789Z","refresh_expires_in":"2026-12-06T12:34:56.789Z","user":{"user_id":12345,"email":"user@example.com","role_id":2,"org_unit_id":1001}}"#,
        ),
    );
    bench_cycle(
        &mut group,
        "convercus",
        Convercus::builder("abc", Environment::Production, "secret")
            .build()
            .expect("a valid configuration"),
        canned_response(),
    );
    bench_cycle(
        &mut group,
        "convercus_legacy",
        ConvercusLegacy::builder("ORG", "user", "password", Environment::Production)
            .build()
            .expect("a valid configuration"),
        json_response(r#"{"token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhcGktdXNlciJ9.c2lnbmF0dXJl"}"#),
    );
    group.finish();
}

fn password_dialect() -> Standard {
    Standard::builder(TOKEN_URL, "client")
        .client_secret("secret")
        .password("alice", "password")
        .build()
        .expect("a valid configuration")
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(StdDuration::from_secs(1))
        .measurement_time(StdDuration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = access_token, client_credentials_cycle, dialect_cycle, driver_lifecycle
}
criterion_main!(benches);
