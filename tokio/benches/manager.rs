//! What the tokio manager costs its callers, over real loopback sockets:
//!
//! - `single_flight/10000_waiters`: 10,000 tasks wait for one renewal; the time from the
//!   renewal's answer being released until every one of them holds the new token. Each
//!   iteration checks that the renewal took exactly one token request.
//! - `api_call/*`: one API call with a bearer token against a local server, sent by plain
//!   reqwest with a static `Authorization` header, and through `BearerAuth` with the
//!   manager's cached token (same endpoint, same header); and, to tell the layer's cost
//!   from the chain's, through a `reqwest_middleware` client with no layer and the static
//!   header. The kinds of call are interleaved, each function timing its own.
//!
//! Run with `cargo bench -p oauth-lifecycle-tokio --features middleware --bench manager`.

#[path = "../tests/support/loopback.rs"]
mod loopback;

use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use oauth_lifecycle::Policy;
use oauth_lifecycle_emulator::{Clock, HttpFront, StandardServer, StandardServerConfig};
use oauth_lifecycle_testkit::{eventually_async as eventually, standard, PATIENCE};
use oauth_lifecycle_tokio::{BearerAuth, TokenManager};
use reqwest::header::AUTHORIZATION;

const WAITERS: usize = 10_000;

type Front = HttpFront<StandardServer>;

fn provider() -> Arc<Front> {
    Arc::new(
        HttpFront::start(
            StandardServer::new(StandardServerConfig::default()),
            Clock::System,
        )
        .expect("a front"),
    )
}

/// The default policy, except that a reported 401 renews at once: every iteration of
/// the single-flight bench reports one, and the default spacing of 401-driven renewals
/// (30 s) would make each iteration wait that long before it measures anything.
fn manager(front: &Front) -> TokenManager {
    let mut policy = Policy::default();
    policy.unauthorized_renewal_spacing = oauth_lifecycle::time::Duration::ZERO;
    TokenManager::start(standard(front), policy).expect("a manager")
}

/// Holds the emulator until released, so a renewal reaching it stays in flight.
fn hold(front: &Arc<Front>) -> (mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (release, released) = mpsc::channel();
    let (held, holding) = mpsc::channel();
    let thread = std::thread::spawn({
        let front = Arc::clone(front);
        move || {
            front.with_emulator(|_| {
                held.send(()).expect("the bench waits");
                let _ = released.recv_timeout(PATIENCE);
            })
        }
    });
    holding.recv_timeout(PATIENCE).expect("the emulator held");
    (release, thread)
}

fn single_flight(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let front = provider();
    let manager = runtime.block_on(async { manager(&front) });
    let mut group = c.benchmark_group("single_flight");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("10000_waiters", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let current = manager.token(PATIENCE).await.expect("a token");
                    let requests = front.stats().auth_requests;
                    let (release, holder) = hold(&front);
                    manager.report_unauthorized(current.generation());
                    eventually("the renewal to reach the provider", || {
                        front.stats().auth_requests == requests + 1
                    })
                    .await;
                    let waiters: Vec<_> = (0..WAITERS)
                        .map(|_| {
                            let manager = manager.clone();
                            tokio::spawn(async move { manager.token(PATIENCE).await })
                        })
                        .collect();
                    // Every waiter waits in the cell before the clock starts.
                    eventually("every waiter to wait", || {
                        (manager.waiters() == WAITERS).then_some(())
                    })
                    .await;
                    let started = Instant::now();
                    release.send(()).expect("the holder waits");
                    for waiter in waiters {
                        let token = waiter.await.expect("a waiter").expect("the new token");
                        assert!(token.generation() > current.generation());
                    }
                    total += started.elapsed();
                    holder.join().expect("the holder");
                    assert_eq!(
                        front.stats().auth_requests,
                        requests + 1,
                        "one token request per renewal"
                    );
                }
                total
            })
        })
    });
    group.finish();
    runtime.block_on(manager.shutdown());
}

/// The kinds of API call compared.
const PLAIN: usize = 0;
const CHAIN: usize = 1;
const THROUGH: usize = 2;

enum Call {
    Plain(reqwest::RequestBuilder),
    Chain(reqwest_middleware::RequestBuilder),
}

fn api_call(c: &mut Criterion) {
    // Client and server share one thread, so that no call waits for another thread to
    // wake up: what differs between the two kinds of call is the work each does.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    // The API checks the token on every call, for both kinds alike.
    let expected: Arc<OnceLock<String>> = Arc::default();
    let api = runtime.block_on(loopback::Loopback::start_unrecorded({
        let expected = Arc::clone(&expected);
        move |seen| {
            if seen.header("authorization") == expected.get().map(String::as_str) {
                loopback::Answer::status(200).body(b"{\"orders\":[]}")
            } else {
                loopback::Answer::status(401)
            }
        }
    }));
    let front = provider();
    let manager = runtime.block_on(async { manager(&front) });
    let header = runtime
        .block_on(manager.token(PATIENCE))
        .expect("a token")
        .header_value()
        .clone();
    expected
        .set(header.to_str().expect("a visible header").to_owned())
        .expect("set once");
    let url = api.url("/api/orders");
    let http = reqwest::Client::new();
    let through = reqwest_middleware::ClientBuilder::new(http.clone())
        .with(BearerAuth::new(manager.clone(), &api.origin()).expect("an origin"))
        .build();

    let chain = reqwest_middleware::ClientBuilder::new(http.clone()).build();
    let call = |kind: usize| {
        let request = match kind {
            PLAIN => Call::Plain(http.get(&url).header(AUTHORIZATION, header.clone())),
            CHAIN => Call::Chain(chain.get(&url).header(AUTHORIZATION, header.clone())),
            _ => Call::Chain(through.get(&url)),
        };
        async move {
            let response = match request {
                Call::Plain(request) => request.send().await.expect("an answer"),
                Call::Chain(request) => request.send().await.expect("an answer"),
            };
            assert_eq!(response.status(), 200);
            response.bytes().await.expect("a body")
        }
    };

    // Every iteration makes one call of each kind, in an order that rotates, and times
    // each; a function reports its own kind to criterion. All calls also count towards
    // the paired totals, whose ratio is the overhead measured in the same moments, free
    // of the drift between one function's run and the next.
    let totals = std::cell::RefCell::new([(Duration::ZERO, 0u64); 3]);
    let mut group = c.benchmark_group("api_call");
    group.measurement_time(Duration::from_secs(10));
    for (kind, name) in [
        (PLAIN, "plain_reqwest_static_header"),
        (CHAIN, "empty_middleware_chain_static_header"),
        (THROUGH, "through_bearer_auth"),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let mut own = Duration::ZERO;
                    for i in 0..iters {
                        for step in 0..3 {
                            let other = (step + i as usize) % 3;
                            let started = Instant::now();
                            std::hint::black_box(call(other).await);
                            let took = started.elapsed();
                            let mut totals = totals.borrow_mut();
                            totals[other].0 += took;
                            totals[other].1 += 1;
                            if other == kind {
                                own += took;
                            }
                        }
                    }
                    own
                })
            })
        });
    }
    group.finish();
    let totals = totals.into_inner();
    let mean = |kind: usize| totals[kind].0.as_secs_f64() / totals[kind].1.max(1) as f64;
    eprintln!(
        "api_call paired over {} calls of each kind: plain {:.2} µs, empty chain {:.2} µs ({:+.1} %), \
         through BearerAuth {:.2} µs ({:+.1} % over plain)",
        totals[PLAIN].1,
        mean(PLAIN) * 1e6,
        mean(CHAIN) * 1e6,
        (mean(CHAIN) / mean(PLAIN) - 1.0) * 100.0,
        mean(THROUGH) * 1e6,
        (mean(THROUGH) / mean(PLAIN) - 1.0) * 100.0,
    );
    runtime.block_on(manager.shutdown());
    drop(api);
}

criterion_group!(benches, single_flight, api_call);
criterion_main!(benches);
