//! The manager's one background task: the tokio runtime of the adapter's [`Engine`]. It
//! sends the requests the engine asks for as tasks of their own, so that time, reports
//! and commands keep reaching the engine while one is out; runs store operations on the
//! blocking pool, never on an async worker; and sleeps until the engine's moment, an
//! answer, or a wake-up. It decides nothing.

use std::sync::Arc;

use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{http, Dialect, RequestId, TokenRequest, TransportError};
use oauth_lifecycle_adapter::coordinator::StoreAnswer;
use oauth_lifecycle_adapter::{transport, Action, Engine, StoreCall, StoreError, TokenCell};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tracing::Instrument as _;

/// The clock the task reads `now` from.
pub(crate) type Clock = Arc<dyn Fn() -> UtcDateTime + Send + Sync>;

/// What one exchange ends with.
type Answer = (RequestId, Result<http::Response<Vec<u8>>, TransportError>);

pub(crate) struct Task<D: Dialect> {
    pub(crate) engine: Engine<D>,
    pub(crate) client: reqwest::Client,
    pub(crate) clock: Clock,
    /// Notified by the engine's [`Wake`](oauth_lifecycle_adapter::Wake).
    pub(crate) woken: Arc<Notify>,
}

/// Closes the read side when the task ends, however it ends (returned, aborted, or
/// panicked): waiters then fail at once with `Closed` instead of running out their time.
struct CloseOnExit(Arc<TokenCell>);

impl Drop for CloseOnExit {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl<D: Dialect> Task<D> {
    pub(crate) async fn run(mut self) {
        let _close = CloseOnExit(Arc::clone(self.engine.cell()));
        // Exchanges still out when the engine stops are aborted with the set.
        let mut exchanges: JoinSet<Answer> = JoinSet::new();
        loop {
            match self.engine.poll((self.clock)()) {
                Action::Send(request) => self.send(request, &mut exchanges),
                Action::Store(call) => {
                    let answer = run_store(call).await;
                    self.engine.handle_store_answer(answer, (self.clock)());
                }
                Action::Wait(moment) => self.wait(moment, &mut exchanges).await,
                Action::Stop => return,
            }
        }
    }

    /// Waits until `moment`, an answer or a wake-up, and hands the engine what came.
    async fn wait(&mut self, moment: UtcDateTime, exchanges: &mut JoinSet<Answer>) {
        let sleep = transport::until(moment, (self.clock)());
        tokio::select! {
            Some(joined) = exchanges.join_next(), if !exchanges.is_empty() => {
                let now = (self.clock)();
                match joined {
                    Ok((id, Ok(response))) => self.engine.handle_response(id, &response, now),
                    Ok((id, Err(error))) => self.engine.handle_transport_error(id, error, now),
                    // The exchange panicked: the core times the request out at its
                    // deadline, its outcome unknown.
                    Err(error) => tracing::error!(%error, "a token request's task failed"),
                }
            }
            () = tokio::time::sleep(sleep) => self.engine.handle_timeout((self.clock)()),
            () = self.woken.notified() => self.engine.handle_timeout((self.clock)()),
        }
    }

    fn send(&mut self, request: TokenRequest, exchanges: &mut JoinSet<Answer>) {
        let id = request.id();
        let span = tracing::debug_span!(
            "token_request",
            request = id.get(),
            purpose = %request.purpose()
        );
        let timeout = transport::timeout(&request, (self.clock)());
        let cap = self.engine.policy().max_body_bytes;
        let client = self.client.clone();
        exchanges.spawn(
            async move {
                let outcome =
                    crate::transport::send(&client, request.into_request(), timeout, cap).await;
                (id, outcome)
            }
            .instrument(span),
        );
    }
}

/// Runs a store operation on the blocking pool: a file store's fsync or a Redis round
/// trip never blocks an async worker.
async fn run_store(call: StoreCall) -> StoreAnswer {
    match tokio::task::spawn_blocking(move || call.run()).await {
        Ok(answer) => answer,
        Err(error) => {
            tracing::error!(%error, "a store operation's task failed");
            StoreAnswer::Failed(StoreError::Unavailable(std::io::Error::other(
                "the store operation did not finish",
            )))
        }
    }
}
