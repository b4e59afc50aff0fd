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
use oauth2::{
    ClientId, ClientSecret, ResourceOwnerPassword, ResourceOwnerUsername, Scope, TokenResponse,
    TokenUrl,
};
use oauth_lifecycle::dialect::{ConvirzaV3, Dialect, Standard};
use oauth_lifecycle::token::{Expiry, TokenGrant};
use oauth_lifecycle::{
    AccessToken, Active, AnySession, Driver, Expiring, LoginOutcome, Output, Policy, RefreshToken,
    Refreshing, Session,
};
use oauth_lifecycle_testkit::emulator::Emulator;
use oauth_lifecycle_testkit::IN_PROCESS;
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

fn active() -> Session<Active, Standard> {
    let grant = TokenGrant {
        access_token: AccessToken::new("a".repeat(400)),
        refresh_token: Some(RefreshToken::new("r".repeat(400))),
        expires: Expiry::In(1800),
        refresh_expires: None,
        scope: None,
        extra: (),
    };
    Session::new(keycloak_client(), Policy::default())
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

/// One full cycle: a new session on a shared dialect, build the login request, take an
/// owned copy of the response (as a transport hands one over), parse it, make the
/// transition, hand out the token.
fn cycle<D: Dialect>(dialect: &Arc<D>, prebuilt: &http::Response<Vec<u8>>) -> bool {
    let session = Session::new(Arc::clone(dialect), Policy::default()).expect("a valid policy");
    let (logging_in, request) = session.login(NOW).expect("a login request");
    let id = request.id();
    black_box(request.request());
    let response = prebuilt.clone();
    match logging_in.on_response(id, &response, NOW) {
        Ok(LoginOutcome::LoggedIn(active)) => active.access_token(NOW).is_some(),
        _ => false,
    }
}

/// A base64url JWT segment of `len` characters, as a server's signed token carries.
fn jwt_segment(seed: &str, len: usize) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let mut segment = String::with_capacity(len + 4);
    while segment.len() < len {
        segment.push_str(&URL_SAFE_NO_PAD.encode(format!("{seed}-{}", segment.len())));
    }
    segment.truncate(len);
    segment
}

/// The nine scope values a Keycloak realm grants by default to a confidential client
/// that asks for `openid`.
const KEYCLOAK_SCOPE: &str = "openid profile email roles web-origins acr basic address phone";

/// A Keycloak 26 client-credentials answer with `scope=openid`: a 1,100-byte access
/// token, an 800-byte `id_token`, and the realm's nine default scope values.
fn keycloak_full_body() -> Vec<u8> {
    let access = format!(
        "eyJhbGciOiJSUzI1NiIsInR5cCIgOiAiSldUIiwia2lkIiA6ICJ4In0.{}.{}",
        jwt_segment("claims", 700),
        jwt_segment("signature", 342)
    );
    let id_token = format!(
        "eyJhbGciOiJSUzI1NiIsInR5cCIgOiAiSldUIiwia2lkIiA6ICJ4In0.{}.{}",
        jwt_segment("id", 400),
        jwt_segment("idsig", 342)
    );
    format!(
        r#"{{"access_token":"{access}","expires_in":300,"refresh_expires_in":0,"token_type":"Bearer","id_token":"{id_token}","not-before-policy":0,"scope":"{KEYCLOAK_SCOPE}"}}"#
    )
    .into_bytes()
}

/// The smallest answer RFC 6749 §5.1 allows, with a lifetime.
const MINIMAL_BODY: &str =
    r#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600}"#;

/// The Convirza V3 login answer as its document shows it: absolute expiries, a
/// `frontend_token` and a `user` object.
const CONVIRZA_V3_BODY: &str = r#"{"access_token":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbklkIjoiYWJjZDEyMzQtZWY1Ni03ODkwLWFiY2QtMTIzNDU2Nzg5MGFiIiwiaWF0IjoxNzA5NTU1NTU1LCJleHAiOjE3MDk1OTg3NTV9.xyz123","frontend_token":"a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6","refresh_token":"xyz789refresh012345678901234567890","token_type":"Bearer","expires_in":"2026-06-08T12:34:56.789Z","refresh_expires_in":"2026-12-06T12:34:56.789Z","user":{"user_id":12345,"email":"user@example.com","role_id":2,"org_unit_id":1001}}"#;

/// A Keycloak client's secret: 32 characters, as the admin console generates them.
const CLIENT_SECRET: &str = "Wq3xT8vLp0ZmN5rYc2Kd7HsJ4eUb9GaF";

/// The standard dialect as a Keycloak client is configured: `client_secret_basic`,
/// `scope=openid`.
fn keycloak_client() -> Standard {
    Standard::builder(TOKEN_URL, "machine-2-machine")
        .client_secret(CLIENT_SECRET)
        .scope("openid")
        .build()
        .expect("a valid configuration")
}

/// `oauth2` 5.0 configured the same way.
fn oauth2_client() -> BasicClient<
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
> {
    BasicClient::new(ClientId::new("machine-2-machine".into()))
        .set_client_secret(ClientSecret::new(CLIENT_SECRET.into()))
        .set_token_uri(TokenUrl::new(TOKEN_URL.into()).expect("a valid URL"))
}

/// Both sides side by side on each body: each configured once, as an application would,
/// and each handed an owned clone of the same prebuilt response per iteration (ours
/// from the bench's transport stand-in, `oauth2`'s from its HTTP-client closure).
fn fair_cycle(c: &mut Criterion) {
    let bodies: [(&str, Vec<u8>); 3] = [
        ("keycloak_9_scopes_id_token", keycloak_full_body()),
        ("convirza_v3_document", CONVIRZA_V3_BODY.as_bytes().to_vec()),
        ("minimal", MINIMAL_BODY.as_bytes().to_vec()),
    ];
    let ours = Arc::new(keycloak_client());
    let v3 = Arc::new(
        ConvirzaV3::builder("user@example.com", "SecurePassword123!")
            .build()
            .expect("a valid configuration"),
    );
    let client = oauth2_client();
    let v3_client = oauth2_v3_client();
    let mut group = c.benchmark_group("fair_cycle");
    // The part of the cycle before any response: a new session and its login request.
    group.bench_function("new_and_login_only", |b| {
        b.iter(|| {
            let session =
                Session::new(Arc::clone(&ours), Policy::default()).expect("a valid policy");
            let (logging_in, request) = session.login(NOW).expect("a login request");
            black_box(request.request());
            black_box(logging_in);
        })
    });
    for (name, body) in bodies {
        let prebuilt = http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(body)
            .expect("a valid response");
        let http_client =
            |request: oauth2::HttpRequest| -> Result<oauth2::HttpResponse, std::io::Error> {
                black_box(&request);
                Ok(prebuilt.clone())
            };
        if name.starts_with("convirza_v3") {
            // `oauth2`'s standard response cannot read V3's timestamp expiries; its
            // users read the body with their own type, as `V3Response` does.
            let theirs = || {
                v3_client
                    .exchange_password(
                        &ResourceOwnerUsername::new("user@example.com".into()),
                        &ResourceOwnerPassword::new("SecurePassword123!".into()),
                    )
                    .request(&http_client)
                    .map(|token| !token.access_token().secret().is_empty())
                    .unwrap_or(false)
            };
            side_by_side(&mut group, name, &v3, &prebuilt, theirs);
        } else {
            let theirs = || {
                client
                    .exchange_client_credentials()
                    .add_scope(Scope::new("openid".into()))
                    .request(&http_client)
                    .map(|token| !token.access_token().secret().is_empty())
                    .unwrap_or(false)
            };
            side_by_side(&mut group, name, &ours, &prebuilt, theirs);
        }
    }
    group.finish();
}

/// Our cycle and `theirs` on the same prebuilt response, each checked to log in first.
fn side_by_side<D: Dialect>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    ours: &Arc<D>,
    prebuilt: &http::Response<Vec<u8>>,
    theirs: impl Fn() -> bool,
) {
    assert!(cycle(ours, prebuilt), "{name}: ours must log in");
    assert!(theirs(), "{name}: oauth2 must log in");
    group.bench_function(format!("{name}/oauth_lifecycle"), |b| {
        b.iter(|| cycle(ours, black_box(prebuilt)))
    });
    group.bench_function(format!("{name}/oauth2_5_0"), |b| b.iter(&theirs));
}

/// Convirza V3's answer as an `oauth2` user would type it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct V3Response {
    access_token: oauth2::AccessToken,
    refresh_token: Option<oauth2::RefreshToken>,
    token_type: oauth2::basic::BasicTokenType,
    frontend_token: String,
    expires_in: String,
    refresh_expires_in: String,
    user: serde_json::Value,
}

impl TokenResponse for V3Response {
    type TokenType = oauth2::basic::BasicTokenType;

    fn access_token(&self) -> &oauth2::AccessToken {
        &self.access_token
    }

    fn token_type(&self) -> &Self::TokenType {
        &self.token_type
    }

    fn expires_in(&self) -> Option<StdDuration> {
        None
    }

    fn refresh_token(&self) -> Option<&oauth2::RefreshToken> {
        self.refresh_token.as_ref()
    }

    fn scopes(&self) -> Option<&Vec<Scope>> {
        None
    }
}

type V3Client = oauth2::Client<
    oauth2::basic::BasicErrorResponse,
    V3Response,
    oauth2::basic::BasicTokenIntrospectionResponse,
    oauth2::StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

fn oauth2_v3_client() -> V3Client {
    oauth2::Client::new(ClientId::new("convirza".into()))
        .set_token_uri(TokenUrl::new(TOKEN_URL.into()).expect("a valid URL"))
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

/// The login response the emulator of a provider row gives `dialect`'s login request
/// at [`NOW`].
fn emulated_login<D: Dialect>(
    emulator: &mut impl Emulator,
    dialect: &D,
) -> http::Response<Vec<u8>> {
    let request = dialect.login_request().expect("a login request");
    emulator.handle(&request, NOW)
}

/// Each provider row's full cycle (`oauth_lifecycle_testkit::providers!`: the row's
/// dialect pointed at its emulator) on the login response the emulator gives once,
/// checked to log in first. A provider added to the rows is benched too.
fn dialect_cycle(c: &mut Criterion) {
    let mut group = c.benchmark_group("dialect_cycle");
    macro_rules! row {
        ($name:ident, $emulator:expr, $dialect:expr, $facts:expr) => {{
            let mut emulator = $emulator;
            let dialect = Arc::new(($dialect)(IN_PROCESS));
            let response = emulated_login(&mut emulator, &*dialect);
            let name = stringify!($name);
            assert!(
                cycle(&dialect, &response),
                "{name}: the cycle must log in on the emulator's answer ({})",
                response.status()
            );
            group.bench_function(name, |b| b.iter(|| cycle(&dialect, black_box(&response))));
        }};
    }
    oauth_lifecycle_testkit::providers!(row);
    group.finish();
}

/// The secret search (`Secrets`, written here so every copy of a form can be wiped)
/// against `aho-corasick` (whose tables cannot be) on the texts a session checks: the
/// granted scope of every token response and a 512-byte error description. Both look for
/// the same forms: a Keycloak client secret, a password and the Basic credentials.
fn secret_search(c: &mut Criterion) {
    use oauth_lifecycle::dialect::Secrets;
    use oauth_lifecycle_testkit::echo::echo_forms;

    let secrets = [
        "Wq3xT8vLp0ZmN5rYc2Kd7HsJ4eUb9GaF",
        "correct horse battery staple",
    ];
    let ours = Secrets::new(secrets);
    let forms: Vec<String> = secrets
        .iter()
        .flat_map(|secret| echo_forms(secret))
        .collect();
    let theirs = aho_corasick::AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostLongest)
        .build(&forms)
        .expect("valid patterns");
    let description = format!(
        "Invalid client or Invalid client credentials: {}",
        "the client authenticated with a secret the realm does not hold; ".repeat(8)
    );
    let texts = [
        ("scope_9_words", KEYCLOAK_SCOPE.to_owned()),
        ("description_512_bytes", description[..512].to_owned()),
    ];
    let mut group = c.benchmark_group("secret_search");
    for (name, text) in &texts {
        assert_eq!(ours.is_echoed_in(text), theirs.is_match(text.as_str()));
        group.bench_function(format!("{name}/secrets"), |b| {
            b.iter(|| black_box(&ours).is_echoed_in(black_box(text)))
        });
        group.bench_function(format!("{name}/aho_corasick"), |b| {
            b.iter(|| black_box(&theirs).is_match(black_box(text.as_str())))
        });
    }
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

/// A client-credentials cycle (a new session, its login request, the answer read) for
/// each way the client authenticates: `client_secret_basic` (its header and body
/// precomputed when the dialect is built) against `private_key_jwt` and
/// `client_secret_jwt`, whose assertion is signed and appended per request.
fn client_auth_cycle(c: &mut Criterion) {
    use oauth_lifecycle_jwt::{Algorithm, JwtSigner};
    let response = http::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(
            br#"{"access_token":"at-0123456789","token_type":"Bearer","expires_in":3600}"#.to_vec(),
        )
        .expect("a valid response");
    let base = || Standard::builder("https://auth.example.com/token", "bench-client");
    let mut group = c.benchmark_group("client_auth_cycle");
    let basic = Arc::new(base().client_secret("bench-secret").build().expect("valid"));
    assert!(cycle(&basic, &response));
    group.bench_function("client_secret_basic", |b| {
        b.iter(|| cycle(&basic, black_box(&response)))
    });
    for algorithm in [
        Algorithm::Es256,
        Algorithm::Rs256,
        Algorithm::Ps256,
        Algorithm::EdDsa,
    ] {
        let (signer, _pem) = JwtSigner::generate(algorithm).expect("a key");
        let dialect = Arc::new(base().client_assertion(signer).build().expect("valid"));
        assert!(cycle(&dialect, &response));
        group.bench_function(format!("private_key_jwt_{}", algorithm.as_str()), |b| {
            b.iter(|| cycle(&dialect, black_box(&response)))
        });
    }
    // The core's own share: claims, the source's answer read for its `exp`, the body
    // formed; a source that hands back a ready assertion, so no signature is computed.
    let (signer, _pem) = JwtSigner::generate(Algorithm::Es256).expect("a key");
    let ready = {
        use oauth_lifecycle::dialect::assertion::{AssertionClaims, AssertionSource};
        let claims = AssertionClaims {
            issuer: "bench-client".into(),
            subject: "bench-client".into(),
            audience: "https://auth.example.com/token".into(),
            issued_at: NOW,
            expires_at: NOW + Duration::hours(1),
        };
        signer
            .assertion(&claims)
            .expect("an assertion")
            .into_compact()
    };
    let unsigned = Arc::new(
        base()
            .client_assertion(oauth_lifecycle::dialect::assertion::from_fn(
                "ready",
                move |_| oauth_lifecycle::dialect::assertion::Assertion::new(ready.to_string()),
            ))
            .build()
            .expect("valid"),
    );
    assert!(cycle(&unsigned, &response));
    group.bench_function("assertion_without_signing", |b| {
        b.iter(|| cycle(&unsigned, black_box(&response)))
    });
    let secret =
        JwtSigner::client_secret("bench-client-secret-of-32-bytes-or-more").expect("a key");
    let hs256 = Arc::new(base().client_assertion(secret).build().expect("valid"));
    assert!(cycle(&hs256, &response));
    group.bench_function("client_secret_jwt_HS256", |b| {
        b.iter(|| cycle(&hs256, black_box(&response)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = access_token, fair_cycle, dialect_cycle, driver_lifecycle, secret_search,
        client_auth_cycle
}
criterion_main!(benches);
