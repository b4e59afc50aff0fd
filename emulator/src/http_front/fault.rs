//! Faults of the transport rather than the provider: what a load balancer, a proxy or a
//! broken network does to an exchange.

use std::io::{self, Write};

use http::header::CONTENT_TYPE;
use http::{HeaderValue, StatusCode};

use crate::Reply;

/// A transport fault the next request to the authentication endpoints meets; see
/// [`HttpFront::inject`](crate::HttpFront::inject). API requests never meet one.
///
/// Some faults let the request through to the emulator and lose the answer on the way
/// back, as when a server acted and the network failed; the others answer in front of the
/// emulator, as a proxy would, and the emulator never sees the request. Each variant says
/// which.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportFault {
    /// Reads the whole request, lets the emulator handle it, then sends nothing for this
    /// long and closes the connection (a FIN: a client still waiting reads end of
    /// stream). A client with a shorter read timeout times out. Shutting the front down
    /// cuts the wait short.
    Hang(std::time::Duration),
    /// Reads the request, lets the emulator handle it, then closes the socket with one
    /// byte of the request still unread, which makes the kernel send a TCP reset (RST)
    /// instead of a FIN: the client, having written its whole request, reads
    /// `ECONNRESET` ([`io::ErrorKind::ConnectionReset`]) rather than an answer.
    ResetAfterRequest,
    /// Lets the emulator handle the request, sends its answer's head with the real
    /// `Content-Length` and only the first half of the body (rounded down), then closes
    /// the connection: the client reads a short body and then end of stream.
    TruncatedBody,
    /// Answers in front of the emulator with an HTML error page and this status, as a
    /// gateway does. A status outside 200–599 becomes 502.
    HtmlErrorPage(u16),
    /// Answers in front of the emulator with a 200 whose `application/json` body is
    /// this many bytes: from 14 bytes on, a valid JSON object `{"padding":"xx…x"}`, below
    /// that `{}` padded with spaces (and below 2 bytes, spaces alone).
    OversizedBody(u64),
}

/// The error page a gateway answers with.
pub(super) fn html_error_page(status: u16) -> Reply {
    let status = StatusCode::from_u16(status)
        .ok()
        .filter(|s| (200..600).contains(&s.as_u16()))
        .unwrap_or(StatusCode::BAD_GATEWAY);
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    let page = format!(
        "<!DOCTYPE html>\n<html><head><title>{title}</title></head>\n\
         <body><center><h1>{title}</h1></center><hr><center>emulated gateway</center></body></html>\n"
    );
    let mut reply = http::Response::new(page.into_bytes());
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    reply
}

/// Writes a JSON-looking body of exactly `size` bytes, a piece at a time so that a
/// large one is never held in memory.
pub(super) fn write_padding(out: &mut impl Write, size: u64) -> io::Result<()> {
    const OPEN: &[u8] = b"{\"padding\":\"";
    const CLOSE: &[u8] = b"\"}";
    const PIECE: usize = 64 * 1024;
    let framing = (OPEN.len() + CLOSE.len()) as u64;
    let (open, close, filler): (&[u8], &[u8], u8) = if size >= framing {
        (OPEN, CLOSE, b'x')
    } else if size >= 2 {
        (b"{}", b"", b' ')
    } else {
        (b"", b"", b' ')
    };
    out.write_all(open)?;
    let mut left = size - (open.len() + close.len()) as u64;
    let piece = [filler; PIECE];
    while left > 0 {
        let now = usize::try_from(left).map_or(PIECE, |left| left.min(PIECE));
        out.write_all(&piece[..now])?;
        left -= now as u64;
    }
    out.write_all(close)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_has_the_exact_size_and_parses_as_json_when_it_can() {
        for size in [0u64, 1, 2, 3, 13, 14, 15, 100, 70_000] {
            let mut body = Vec::new();
            write_padding(&mut body, size).unwrap();
            assert_eq!(body.len() as u64, size);
            if size >= 2 {
                let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
                assert!(value.is_object(), "{size}");
            }
        }
    }

    #[test]
    fn error_pages_keep_sensible_statuses_only() {
        assert_eq!(html_error_page(503).status(), 503);
        assert_eq!(html_error_page(404).status(), 404);
        assert_eq!(html_error_page(101).status(), 502);
        assert_eq!(html_error_page(0).status(), 502);
        assert_eq!(html_error_page(700).status(), 502);
        let page = html_error_page(504);
        assert_eq!(page.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(String::from_utf8_lossy(page.body()).contains("504 Gateway Timeout"));
    }
}
