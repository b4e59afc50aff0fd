//! Endpoint URLs, checked once at configuration time.

use std::net::IpAddr;

use http::Uri;

use crate::error::ConfigError;

/// An endpoint URL that is `https`, or `http` on a loopback host (for tests and local
/// development servers). Anything else is refused: credentials and tokens would travel
/// in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint(Uri);

impl Endpoint {
    /// Parses and checks `url`; `endpoint` names it in the error.
    pub fn parse(url: &str, endpoint: &'static str) -> Result<Self, ConfigError> {
        let uri: Uri = url
            .parse()
            .map_err(|_| ConfigError::InvalidUrl { endpoint })?;
        let host = uri.host().ok_or(ConfigError::InvalidUrl { endpoint })?;
        match uri.scheme_str() {
            Some("https") => Ok(Endpoint(uri)),
            Some("http") if is_loopback(host) => Ok(Endpoint(uri)),
            Some("http") => Err(ConfigError::InsecureUrl { endpoint }),
            _ => Err(ConfigError::InvalidUrl { endpoint }),
        }
    }

    /// The URI.
    pub fn uri(&self) -> &Uri {
        &self.0
    }

    /// A sibling endpoint: the same scheme and authority with another path.
    pub fn with_path(&self, path: &str, endpoint: &'static str) -> Result<Self, ConfigError> {
        let mut parts = self.0.clone().into_parts();
        parts.path_and_query = Some(
            path.parse()
                .map_err(|_| ConfigError::InvalidUrl { endpoint })?,
        );
        Uri::from_parts(parts)
            .map(Endpoint)
            .map_err(|_| ConfigError::InvalidUrl { endpoint })
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_and_http_only_on_loopback() {
        for ok in [
            "https://auth.example.com/token",
            "http://127.0.0.1:8080/token",
            "http://127.5.0.1/token",
            "http://localhost:3000/o/token/",
            "http://[::1]:9000/token",
        ] {
            assert!(Endpoint::parse(ok, "token").is_ok(), "{ok}");
        }
        assert_eq!(
            Endpoint::parse("http://auth.example.com/token", "token"),
            Err(ConfigError::InsecureUrl { endpoint: "token" })
        );
        assert_eq!(
            Endpoint::parse("http://localhost.evil.com/token", "token"),
            Err(ConfigError::InsecureUrl { endpoint: "token" })
        );
        for bad in ["/token", "ftp://example.com/x", "not a url", ""] {
            assert!(Endpoint::parse(bad, "token").is_err(), "{bad}");
        }
    }
}
