//! Reading a request's head, bounded: the redirect, or a request for something else.

use super::answer::Page;
use super::*;

/// What the bytes a connection sent so far are.
#[derive(Debug)]
pub enum HeadRead {
    /// Not a whole head yet: read more (and close without an answer if the peer closes
    /// first).
    NeedMore,
    /// A whole, well-formed head: send its [`answer`](RequestHead::answer); it is the
    /// redirect when [`into_redirect`](RequestHead::into_redirect) says so.
    Complete(RequestHead),
    /// Not a request this listener reads (malformed, too long, another HTTP version):
    /// send this answer and close. It does not count as the redirect.
    Invalid(Answer),
}

/// A well-formed request head: the redirect, or a request for something else.
#[derive(Debug)]
pub struct RequestHead {
    kind: HeadKind,
}

#[derive(Debug)]
enum HeadKind {
    /// A `GET` of the configured path.
    Redirect(ReceivedRedirect),
    /// A `GET` of another path.
    OtherPath,
    /// Another method; `HEAD` gets no body.
    OtherMethod { head: bool },
}

impl RequestHead {
    /// Whether it is the redirect.
    pub fn is_redirect(&self) -> bool {
        matches!(self.kind, HeadKind::Redirect(_))
    }

    /// What to answer: the page for the redirect (200), 404 for another path, 405 for
    /// another method.
    pub fn answer(&self) -> Answer {
        match self.kind {
            HeadKind::Redirect(_) => Answer::new(Page::Received),
            HeadKind::OtherPath => Answer::new(Page::NotFound),
            HeadKind::OtherMethod { head } => Answer {
                page: Page::MethodNotAllowed,
                with_body: !head,
            },
        }
    }

    /// The redirect, if it is one.
    pub fn into_redirect(self) -> Option<ReceivedRedirect> {
        match self.kind {
            HeadKind::Redirect(redirect) => Some(redirect),
            _ => None,
        }
    }
}

/// The bytes of one connection's request head, in a buffer of [`MAX_HEAD_BYTES`] that
/// is wiped when dropped (it holds the code) and never reallocated.
///
/// Read into [`unfilled`](Self::unfilled), say how much with
/// [`advance`](Self::advance), then ask [`read`](Self::read); each call scans only what
/// came since the last one for the end of the head.
pub struct HeadReader {
    buffer: Zeroizing<Vec<u8>>,
    filled: usize,
    /// Where the search for the end of the head resumes.
    scanned: usize,
}

impl Default for HeadReader {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for HeadReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeadReader")
            .field("filled", &self.filled)
            .finish_non_exhaustive()
    }
}

impl HeadReader {
    /// An empty reader.
    pub fn new() -> Self {
        HeadReader {
            buffer: Zeroizing::new(vec![0; MAX_HEAD_BYTES]),
            filled: 0,
            scanned: 0,
        }
    }

    /// Where to read the next bytes; empty once [`MAX_HEAD_BYTES`] were read (and then
    /// [`read`](Self::read) already said [`HeadRead::Invalid`]).
    pub fn unfilled(&mut self) -> &mut [u8] {
        &mut self.buffer[self.filled..]
    }

    /// Counts `count` more bytes read into [`unfilled`](Self::unfilled) (at most its
    /// length).
    pub fn advance(&mut self, count: usize) {
        self.filled = self.filled.saturating_add(count).min(self.buffer.len());
    }

    /// The bytes read so far.
    pub fn received(&self) -> &[u8] {
        &self.buffer[..self.filled]
    }

    /// What the bytes read so far are; see [`LoopbackRedirect::read_head`].
    pub fn read(&mut self, config: &LoopbackRedirect) -> HeadRead {
        let received = &self.buffer[..self.filled];
        let end = head_end(received, self.scanned);
        // The blank line may begin in the last two bytes: look at them again.
        self.scanned = self.filled.saturating_sub(2);
        read_head(received, end, &config.path)
    }
}

/// Where the head in `received` ends (just past its blank line), looking for it from
/// `from`: a line feed followed by a line feed, or by a carriage return and a line feed.
fn head_end(received: &[u8], from: usize) -> Option<usize> {
    let mut index = from;
    while index < received.len() {
        let offset = received[index..].iter().position(|&b| b == b'\n')?;
        let at = index + offset;
        match received.get(at + 1..) {
            Some([b'\n', ..]) => return Some(at + 2),
            Some([b'\r', b'\n', ..]) => return Some(at + 3),
            _ => index = at + 1,
        }
    }
    None
}

/// What `received` is, its head ending at `end` if it does.
fn read_head(received: &[u8], end: Option<usize>, path: &str) -> HeadRead {
    match end {
        Some(end) if end <= MAX_HEAD_BYTES => judge(&received[..end], path),
        Some(_) => HeadRead::Invalid(Answer::new(Page::TooLarge)),
        None if received.len() >= MAX_HEAD_BYTES => HeadRead::Invalid(Answer::new(Page::TooLarge)),
        None => HeadRead::NeedMore,
    }
}

/// What a whole head is. Header fields are checked for their form only: the listener
/// needs none of them.
fn judge(head: &[u8], path: &str) -> HeadRead {
    let invalid = |page| HeadRead::Invalid(Answer::new(page));
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let Some(request_line) = lines.next() else {
        return invalid(Page::BadRequest);
    };
    // Visible ASCII and single spaces: a target is never sent with anything else.
    if !request_line
        .iter()
        .all(|&b| b == b' ' || b.is_ascii_graphic())
    {
        return invalid(Page::BadRequest);
    }
    let Ok(request_line) = std::str::from_utf8(request_line) else {
        return invalid(Page::BadRequest);
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return invalid(Page::BadRequest);
    };
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return invalid(Page::BadRequest);
    }
    match version {
        "HTTP/1.1" | "HTTP/1.0" => {}
        _ if is_http_version(version) => return invalid(Page::VersionNotSupported),
        _ => return invalid(Page::BadRequest),
    }
    // Origin-form only (RFC 9112 §3.2.1): a browser sends nothing else to a server it
    // reaches directly.
    if !target.starts_with('/') || target.contains('#') {
        return invalid(Page::BadRequest);
    }
    for line in lines.take_while(|line| !line.is_empty()) {
        let name = line
            .iter()
            .position(|&b| b == b':')
            .map(|colon| &line[..colon]);
        // No name, or a folded line (obsolete, RFC 9112 §5.2).
        if !name.is_some_and(|name| !name.is_empty() && name.iter().copied().all(is_tchar)) {
            return invalid(Page::BadRequest);
        }
    }
    let kind = if method != "GET" {
        HeadKind::OtherMethod {
            head: method == "HEAD",
        }
    } else if target.split_once('?').map_or(target, |(p, _)| p) == path {
        HeadKind::Redirect(ReceivedRedirect {
            target: Zeroizing::new(target.to_owned()),
        })
    } else {
        HeadKind::OtherPath
    };
    HeadRead::Complete(RequestHead { kind })
}

/// `HTTP/<digit>.<digit>`.
fn is_http_version(version: &str) -> bool {
    matches!(
        version.as_bytes(),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit()
    )
}

/// A character of an HTTP token (RFC 9110 §5.6.2).
fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// Reading a head against a configuration.
impl LoopbackRedirect {
    /// Reads `received`, the bytes a connection sent so far, as a request head: whether
    /// more are needed, the head, or an answer refusing it. At most [`MAX_HEAD_BYTES`]
    /// are read; a runtime reads with a [`HeadReader`], which also wipes them.
    pub fn read_head(&self, received: &[u8]) -> HeadRead {
        read_head(received, head_end(received, 0), self.redirect_path())
    }
}
