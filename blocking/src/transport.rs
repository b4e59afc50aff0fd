//! The one place the manager meets ureq: a token request sent with the core's timeout and
//! body cap, every HTTP status handed back as a response, and every failure sorted by
//! whether the request may have reached the server.

use std::fmt;
use std::io::{self, Read};
use std::time::Duration;

use oauth_lifecycle::{http, Policy, TokenRequest, TransportError};
use oauth_lifecycle_adapter::transport::{connect_timeout, CappedBody};
use ureq::Timeout;

/// The agent a manager uses unless given one, under the adapters' one transport policy
/// ([`oauth_lifecycle_adapter::transport`]): every status an answer, no redirect, a
/// connect timeout shorter than the request's deadline, no idle connection kept. For a
/// one-shot request outside a session (discovery), with [`send_request`].
pub fn default_agent(policy: &Policy) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .max_idle_connections(0)
        .max_idle_connections_per_host(0)
        .timeout_connect(Some(connect_timeout(policy)));
    #[cfg(all(feature = "native-tls", not(feature = "rustls")))]
    let config = config.tls_config(
        ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::NativeTls)
            .build(),
    );
    config.build().into()
}

/// Sends a session's `request` with `agent`, as [`send_request`] does.
pub(crate) fn send(
    agent: &ureq::Agent,
    request: &TokenRequest,
    timeout: Duration,
    max_body_bytes: usize,
) -> Result<http::Response<Vec<u8>>, TransportError> {
    send_request(agent, request.request().clone(), timeout, max_body_bytes)
}

/// Sends `request` with `agent`, whatever the agent's own settings: every status comes
/// back as a response, a redirect included (a token endpoint's redirect is an answer,
/// not a place to send credentials), the whole exchange ends within `timeout`, and the
/// body is read no further than one byte past `max_body_bytes`. No answer is a
/// [`TransportError`] that says whether the request may have left. The one way this
/// runtime sends: a session's requests, and one-shot requests outside a session (an
/// issuer's metadata).
pub fn send_request(
    agent: &ureq::Agent,
    request: http::Request<Vec<u8>>,
    timeout: Duration,
    max_body_bytes: usize,
) -> Result<http::Response<Vec<u8>>, TransportError> {
    let outgoing = agent
        .configure_request(request)
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .timeout_global(Some(timeout))
        .build();
    let response = agent.run(outgoing).map_err(|error| {
        let outcome = classify(&error);
        tracing::debug!(cause = %Cause(&error), outcome = %outcome, "no answer");
        outcome
    })?;
    let (parts, body) = response.into_parts();
    let mut reader = body.into_reader();
    let mut capped = CappedBody::new(max_body_bytes);
    let mut chunk = [0; 8 * 1024];
    loop {
        let want = capped.remaining().min(chunk.len());
        match reader.read(&mut chunk[..want]) {
            Ok(0) => break,
            Ok(read) => {
                if !capped.push(&chunk[..read]) {
                    break;
                }
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            // The server answered, so it had the request: what it did is unknown.
            Err(error) => {
                tracing::debug!(
                    status = parts.status.as_u16(),
                    cause = %error.kind(),
                    "the answer's body broke off"
                );
                return Err(TransportError::OutcomeUnknown);
            }
        }
    }
    Ok(http::Response::from_parts(parts, capped.into_bytes()))
}

/// Whether a request that got no response may have reached the server.
///
/// Only failures that happen before a byte of the request is written are
/// [`NotSent`](TransportError::NotSent): the name did not resolve, the connection was
/// refused or unreachable or timed out, a proxy refused the tunnel, the TLS handshake
/// failed, or the request could not be built. Everything else, including a timeout that
/// ureq reports for the whole exchange, is [`OutcomeUnknown`](TransportError::OutcomeUnknown):
/// resending a single-use refresh token that reached the server would end the session.
pub(crate) fn classify(error: &ureq::Error) -> TransportError {
    use TransportError::{NotSent, OutcomeUnknown};
    match error {
        ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::Timeout(Timeout::Resolve | Timeout::Connect)
        | ureq::Error::ConnectProxyFailed(_)
        | ureq::Error::InvalidProxyUrl
        | ureq::Error::BadUri(_)
        | ureq::Error::Http(_)
        | ureq::Error::RequireHttpsOnly(_)
        | ureq::Error::TlsRequired
        | ureq::Error::Tls(_) => NotSent,
        #[cfg(any(feature = "rustls", feature = "native-tls"))]
        ureq::Error::Pem(_) => NotSent,
        // Raised while setting up the TLS session, before any byte is written.
        #[cfg(feature = "rustls")]
        ureq::Error::Rustls(_) => NotSent,
        // Raised by the handshake; later failures come as I/O errors.
        #[cfg(feature = "native-tls")]
        ureq::Error::NativeTls(_) | ureq::Error::Der(_) => NotSent,
        ureq::Error::Io(error) => classify_io(error),
        _ => OutcomeUnknown,
    }
}

/// An I/O error: only those of connecting mean nothing was sent.
fn classify_io(error: &io::Error) -> TransportError {
    match error.kind() {
        io::ErrorKind::ConnectionRefused
        | io::ErrorKind::HostUnreachable
        | io::ErrorKind::NetworkUnreachable
        | io::ErrorKind::NetworkDown
        | io::ErrorKind::AddrNotAvailable => TransportError::NotSent,
        _ if tls_handshake_failed(error) => TransportError::NotSent,
        _ => TransportError::OutcomeUnknown,
    }
}

/// Whether rustls refused the server during the handshake (its certificate, its
/// protocol versions or messages), which happens before the request is written. Other
/// TLS errors may come after it.
#[cfg(feature = "rustls")]
fn tls_handshake_failed(error: &io::Error) -> bool {
    let Some(tls) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return false;
    };
    matches!(
        tls,
        rustls::Error::InvalidCertificate(_)
            | rustls::Error::NoCertificatesPresented
            | rustls::Error::PeerIncompatible(_)
            | rustls::Error::UnsupportedNameType
            | rustls::Error::InappropriateHandshakeMessage { .. }
            | rustls::Error::HandshakeNotComplete
    )
}

#[cfg(not(feature = "rustls"))]
fn tls_handshake_failed(_: &io::Error) -> bool {
    false
}

/// What failed, for traces: the kind of failure, never its text (an error may quote
/// what the server sent).
struct Cause<'a>(&'a ureq::Error);

impl fmt::Display for Cause<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            ureq::Error::Io(error) => write!(f, "I/O: {}", error.kind()),
            ureq::Error::Timeout(phase) => write!(f, "timeout ({phase:?})"),
            ureq::Error::HostNotFound => f.write_str("host not found"),
            ureq::Error::ConnectionFailed => f.write_str("connection failed"),
            ureq::Error::Protocol(_) => f.write_str("HTTP protocol error"),
            ureq::Error::LargeResponseHeader(..) => f.write_str("response head too large"),
            ureq::Error::Tls(_) => f.write_str("TLS"),
            #[cfg(feature = "rustls")]
            ureq::Error::Rustls(_) => f.write_str("TLS"),
            #[cfg(feature = "native-tls")]
            ureq::Error::NativeTls(_) => f.write_str("TLS"),
            _ => f.write_str("HTTP client error"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: io::ErrorKind) -> ureq::Error {
        ureq::Error::Io(kind.into())
    }

    /// Every failure a client meets, with whether the request may have left.
    #[test]
    fn failures_are_sorted_by_whether_the_request_left() {
        use TransportError::{NotSent, OutcomeUnknown};
        let table: Vec<(&str, ureq::Error, TransportError)> = vec![
            ("DNS failure", ureq::Error::HostNotFound, NotSent),
            (
                "connection refused",
                io(io::ErrorKind::ConnectionRefused),
                NotSent,
            ),
            (
                "host unreachable",
                io(io::ErrorKind::HostUnreachable),
                NotSent,
            ),
            (
                "network unreachable",
                io(io::ErrorKind::NetworkUnreachable),
                NotSent,
            ),
            (
                "no connector succeeded",
                ureq::Error::ConnectionFailed,
                NotSent,
            ),
            (
                "resolve timeout",
                ureq::Error::Timeout(Timeout::Resolve),
                NotSent,
            ),
            (
                "connect timeout",
                ureq::Error::Timeout(Timeout::Connect),
                NotSent,
            ),
            (
                "proxy refused the tunnel",
                ureq::Error::ConnectProxyFailed("403".into()),
                NotSent,
            ),
            ("bad URI", ureq::Error::BadUri("no host".into()), NotSent),
            (
                "https only",
                ureq::Error::RequireHttpsOnly("http://x".into()),
                NotSent,
            ),
            ("TLS setup", ureq::Error::Tls("invalid dns name"), NotSent),
            (
                "reset after the request",
                io(io::ErrorKind::ConnectionReset),
                OutcomeUnknown,
            ),
            (
                "broken pipe while writing",
                io(io::ErrorKind::BrokenPipe),
                OutcomeUnknown,
            ),
            (
                "end of stream before the answer",
                io(io::ErrorKind::UnexpectedEof),
                OutcomeUnknown,
            ),
            (
                "timeout of the whole exchange",
                ureq::Error::Timeout(Timeout::Global),
                OutcomeUnknown,
            ),
            (
                "timeout sending the request",
                ureq::Error::Timeout(Timeout::SendRequest),
                OutcomeUnknown,
            ),
            (
                "timeout awaiting the answer",
                ureq::Error::Timeout(Timeout::RecvResponse),
                OutcomeUnknown,
            ),
            (
                "timeout reading the body",
                ureq::Error::Timeout(Timeout::RecvBody),
                OutcomeUnknown,
            ),
            (
                "a read that timed out",
                ureq::Error::Timeout(Timeout::PerRead),
                OutcomeUnknown,
            ),
            (
                "response head too large",
                ureq::Error::LargeResponseHeader(70_000, 65_536),
                OutcomeUnknown,
            ),
            (
                "a redirect it would not follow",
                ureq::Error::RedirectFailed,
                OutcomeUnknown,
            ),
            (
                "status as error (never configured)",
                ureq::Error::StatusCode(500),
                OutcomeUnknown,
            ),
        ];
        for (case, error, expected) in &table {
            assert_eq!(classify(error), *expected, "{case}");
        }
    }

    #[cfg(feature = "rustls")]
    #[test]
    fn a_refused_tls_handshake_sent_nothing_and_other_tls_errors_may_have() {
        use rustls::{CertificateError, Error as Tls};
        let wrapped = |tls: Tls| ureq::Error::Io(io::Error::new(io::ErrorKind::InvalidData, tls));
        for (case, error, expected) in [
            (
                "unknown issuer",
                wrapped(Tls::InvalidCertificate(CertificateError::UnknownIssuer)),
                TransportError::NotSent,
            ),
            (
                "expired certificate",
                wrapped(Tls::InvalidCertificate(CertificateError::Expired)),
                TransportError::NotSent,
            ),
            (
                "no certificate",
                wrapped(Tls::NoCertificatesPresented),
                TransportError::NotSent,
            ),
            (
                "rustls set-up",
                ureq::Error::Rustls(Tls::UnsupportedNameType),
                TransportError::NotSent,
            ),
            (
                "a record that fails to decrypt, possibly mid-answer",
                wrapped(Tls::DecryptError),
                TransportError::OutcomeUnknown,
            ),
            (
                "an alert, possibly mid-answer",
                wrapped(Tls::AlertReceived(rustls::AlertDescription::InternalError)),
                TransportError::OutcomeUnknown,
            ),
        ] {
            assert_eq!(classify(&error), expected, "{case}");
        }
    }

    #[test]
    fn causes_name_the_failure_without_its_text() {
        let error = ureq::Error::BadUri("https://user:s3cret@host/".into());
        assert!(!Cause(&error).to_string().contains("s3cret"));
        assert_eq!(
            Cause(&io(io::ErrorKind::ConnectionReset)).to_string(),
            "I/O: connection reset"
        );
        assert_eq!(
            Cause(&ureq::Error::Timeout(Timeout::Global)).to_string(),
            "timeout (Global)"
        );
    }
}
