//! What the listener answers a browser: a fixed page that quotes nothing of the request.

/// An answer to a browser: a status, a short HTML page that quotes nothing from the
/// request, and headers that keep it out of caches and referrers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub(super) page: Page,
    /// `false` for an answer to `HEAD`.
    pub(super) with_body: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Page {
    Received,
    BadRequest,
    NotFound,
    MethodNotAllowed,
    TooLarge,
    VersionNotSupported,
}

impl Answer {
    pub(super) fn new(page: Page) -> Self {
        Answer {
            page,
            with_body: true,
        }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        match self.page {
            Page::Received => 200,
            Page::BadRequest => 400,
            Page::NotFound => 404,
            Page::MethodNotAllowed => 405,
            Page::TooLarge => 431,
            Page::VersionNotSupported => 505,
        }
    }

    /// The reason phrase.
    pub fn reason(&self) -> &'static str {
        match self.page {
            Page::Received => "OK",
            Page::BadRequest => "Bad Request",
            Page::NotFound => "Not Found",
            Page::MethodNotAllowed => "Method Not Allowed",
            Page::TooLarge => "Request Header Fields Too Large",
            Page::VersionNotSupported => "HTTP Version Not Supported",
        }
    }

    /// The HTML page (sent unless the request was a `HEAD`).
    pub fn body(&self) -> String {
        let (title, text) = match self.page {
            Page::Received => (
                "Response received",
                "The application received the response of the authorization server. \
                 You can close this window.",
            ),
            Page::BadRequest => ("Bad request", "This request could not be read."),
            Page::NotFound => (
                "Not found",
                "The application waits for the authorization server's redirect at another address.",
            ),
            Page::MethodNotAllowed => (
                "Method not allowed",
                "The application accepts the redirect as a GET request only.",
            ),
            Page::TooLarge => (
                "Request too large",
                "This request is longer than the application reads.",
            ),
            Page::VersionNotSupported => (
                "HTTP version not supported",
                "The application reads HTTP/1.0 and HTTP/1.1 only.",
            ),
        };
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\
             <title>{title}</title></head>\n<body><h1>{title}</h1><p>{text}</p></body>\n</html>\n"
        )
    }

    /// The whole answer: status line, headers, and the page unless the request was a
    /// `HEAD`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let body = self.body();
        let mut answer = format!(
            "HTTP/1.1 {} {}\r\n\
             Content-Type: text/html; charset=utf-8\r\n\
             Content-Length: {}\r\n\
             Cache-Control: no-store\r\n\
             Referrer-Policy: no-referrer\r\n\
             X-Content-Type-Options: nosniff\r\n\
             Content-Security-Policy: default-src 'none'\r\n\
             Connection: close\r\n",
            self.status(),
            self.reason(),
            body.len(),
        );
        if self.page == Page::MethodNotAllowed {
            answer.push_str("Allow: GET\r\n");
        }
        answer.push_str("\r\n");
        if self.with_body {
            answer.push_str(&body);
        }
        answer.into_bytes()
    }
}
