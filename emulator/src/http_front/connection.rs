//! Serving one connection: read a request, route it to the emulator (or meet a queued
//! transport fault), answer, and keep going while the connection stays alive.

use std::net::TcpStream;
use std::time::Instant;

use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Version};

use super::fault::{html_error_page, write_padding, TransportFault};
use super::wire::{self, Failure, Incoming};
use super::{lock, Shared};
use crate::{Emulator, Reply};

/// What happens to the connection after an exchange.
enum Next {
    /// Wait for another request.
    KeepAlive,
    /// Close it, letting the client read what was sent.
    Close,
    /// Drop it with a byte of the request unread, so the kernel resets it.
    Reset,
}

/// Serves requests on `stream` until the client leaves, a request is refused or a fault
/// ends the connection.
pub(super) fn serve<E: Emulator>(shared: &Shared<E>, stream: TcpStream) {
    let config = &shared.config;
    // Both are best effort: without them the exchange still works, only slower or with
    // the read deadline alone bounding a client that never reads.
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(config.write_timeout));
    loop {
        let deadline = Instant::now() + config.request_timeout;
        let incoming = match wire::read_request(&stream, &shared.limits(), deadline) {
            Ok(incoming) => incoming,
            Err(Failure::Gone) => return,
            Err(Failure::Reject(status)) => {
                shared.counters.rejected_requests.bump();
                let refusal = wire::rejection(status);
                let _ = wire::write_reply(&mut &stream, &refusal, false, Some("close"));
                wire::close_gracefully(&stream);
                return;
            }
        };
        match exchange(shared, &stream, incoming) {
            Next::KeepAlive => {}
            Next::Close => {
                wire::close_gracefully(&stream);
                return;
            }
            Next::Reset => return,
        }
    }
}

/// Answers one request.
fn exchange<E: Emulator>(shared: &Shared<E>, stream: &TcpStream, incoming: Incoming) -> Next {
    let Incoming {
        request,
        keep_alive,
    } = incoming;
    let api = request.uri().path().starts_with(&shared.config.api_prefix);
    let fault = if api {
        shared.counters.api_requests.bump();
        None
    } else {
        shared.counters.auth_requests.bump();
        lock(&shared.faults).pop_front()
    };
    if fault != Some(TransportFault::ResetAfterRequest) && wire::consume_last_byte(stream).is_err()
    {
        return Next::Close;
    }
    if fault.is_some() {
        shared.counters.faults.bump();
    }
    if !api && !shared.config.auth_latency.is_zero() {
        shared.pause(shared.config.auth_latency);
    }
    let emulate = || {
        let now = shared.clock.now();
        let mut emulator = lock(&shared.emulator);
        if api {
            emulator.resource_request(&request, now)
        } else {
            emulator.handle(&request, now)
        }
    };
    let head_only = request.method() == Method::HEAD;
    let connection = match (keep_alive, request.version()) {
        (false, _) => Some("close"),
        (true, Version::HTTP_10) => Some("keep-alive"),
        (true, _) => None,
    };
    let after = if keep_alive {
        Next::KeepAlive
    } else {
        Next::Close
    };
    let mut out = stream;
    let written = match fault {
        None => wire::write_reply(&mut out, &emulate(), head_only, connection),
        Some(TransportFault::Hang(duration)) => {
            emulate();
            shared.pause(duration);
            return Next::Close;
        }
        Some(TransportFault::ResetAfterRequest) => {
            emulate();
            return Next::Reset;
        }
        Some(TransportFault::TruncatedBody) => {
            let reply = emulate();
            let _ = truncated(&mut out, &reply, head_only);
            return Next::Close;
        }
        Some(TransportFault::HtmlErrorPage(status)) => {
            wire::write_reply(&mut out, &html_error_page(status), head_only, connection)
        }
        Some(TransportFault::OversizedBody(size)) => {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            let head = wire::head(StatusCode::OK, &headers, size, connection);
            std::io::Write::write_all(&mut out, &head).and_then(|()| {
                if head_only {
                    Ok(())
                } else {
                    write_padding(&mut out, size)
                }
            })
        }
    };
    match written {
        Ok(()) => after,
        Err(_) => Next::Close,
    }
}

/// Writes `reply`'s head with its real length and only the first half of its body.
fn truncated(out: &mut &TcpStream, reply: &Reply, head_only: bool) -> std::io::Result<()> {
    let body = reply.body();
    let mut message = wire::head(
        reply.status(),
        reply.headers(),
        body.len() as u64,
        Some("close"),
    );
    if wire::carries_body(reply.status()) && !head_only {
        message.extend_from_slice(&body[..body.len() / 2]);
    }
    std::io::Write::write_all(out, &message)
}
