//! A redirect's location and parameters, read with every length bounded and every
//! decoded secret wiped.

use super::*;

/// A redirect URI, parsed for comparing redirects with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RedirectTarget {
    /// `http` or `https`.
    pub(super) scheme: &'static str,
    /// As the URI writes it (`[::1]` with its brackets), lowercase.
    pub(super) host: String,
    /// The port, the scheme's default if none is written.
    pub(super) port: u16,
    /// `/` when none is written.
    pub(super) path: String,
}

impl RedirectTarget {
    pub(super) fn parse(text: &str) -> Result<Self, RedirectUriProblem> {
        use RedirectUriProblem as P;
        if text.len() > MAX_REDIRECT_URI_BYTES {
            return Err(P::TooLong);
        }
        // `http::Uri` drops a fragment silently: look at the text itself.
        if text.contains('#') {
            return Err(P::Fragment);
        }
        if !has_scheme(text) {
            return Err(P::NotAbsolute);
        }
        let uri: Uri = text.parse().map_err(|_| P::NotAbsolute)?;
        let scheme = match uri.scheme_str() {
            Some(scheme) if scheme.eq_ignore_ascii_case("https") => "https",
            Some(scheme) if scheme.eq_ignore_ascii_case("http") => "http",
            Some(_) => return Err(P::UnsupportedScheme),
            None => return Err(P::NotAbsolute),
        };
        let authority = uri.authority().ok_or(P::NotAbsolute)?;
        if authority.as_str().contains('@') {
            return Err(P::UserInfo);
        }
        let host = authority.host().to_ascii_lowercase();
        if host.is_empty() {
            return Err(P::NotAbsolute);
        }
        if scheme == "http" && !is_loopback_literal(&host) {
            return Err(if host == "localhost" || host.ends_with(".localhost") {
                P::LoopbackByName
            } else {
                P::Insecure
            });
        }
        if authority.port_u16() == Some(0) {
            return Err(P::PortZero);
        }
        if uri
            .query()
            .and_then(|query| reserved_in(query, &RESPONSE_PARAMETERS))
            .is_some()
        {
            return Err(P::ResponseParameterInQuery);
        }
        Ok(RedirectTarget {
            scheme,
            port: effective_port(&uri, scheme),
            host,
            path: uri.path().to_owned(),
        })
    }

    /// Whether `url` (an absolute URL without query or fragment) is this target.
    pub(super) fn matches_url(&self, url: &str) -> bool {
        let Ok(uri) = url.parse::<Uri>() else {
            return false;
        };
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return false;
        };
        !authority.as_str().contains('@')
            && scheme.eq_ignore_ascii_case(self.scheme)
            && authority.host().eq_ignore_ascii_case(&self.host)
            && effective_port(&uri, self.scheme) == self.port
            && uri.path() == self.path
    }
}

/// The port `uri` names, or its scheme's default.
pub(super) fn effective_port(uri: &Uri, scheme: &str) -> u16 {
    uri.port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 })
}

/// Whether `host` is an IP literal of the loopback interface (`127.0.0.0/8`, `[::1]`).
pub(super) fn is_loopback_literal(host: &str) -> bool {
    let address = match host.strip_prefix('[') {
        Some(rest) => rest.strip_suffix(']').unwrap_or(""),
        None => host,
    };
    address
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// Whether `text` starts with an RFC 3986 scheme followed by `://`.
pub(super) fn has_scheme(text: &str) -> bool {
    let Some(end) = text.find("://") else {
        return false;
    };
    let scheme = &text.as_bytes()[..end];
    scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// Where a redirect says it arrived.
pub(super) enum Location<'a> {
    /// An absolute URL, up to its query.
    Url(&'a str),
    /// A request target's path.
    Path(&'a str),
    /// Not said: a query alone.
    Unknown,
}

/// Splits a redirect (its fragment already cut) into where it arrived and its query.
pub(super) fn split_location(text: &str) -> (Location<'_>, &str) {
    if let Some(query) = text.strip_prefix('?') {
        return (Location::Unknown, query);
    }
    let (head, query) = text.split_once('?').unwrap_or((text, ""));
    if text.starts_with('/') {
        (Location::Path(head), query)
    } else if has_scheme(text) {
        (Location::Url(head), query)
    } else {
        (Location::Unknown, text)
    }
}

/// One response parameter as read: absent, once, or more than once.
#[derive(Default)]
pub(super) enum Parameter<'a> {
    #[default]
    Absent,
    One(Cow<'a, str>),
    Repeated,
}

impl<'a> Parameter<'a> {
    pub(super) fn add(&mut self, value: Cow<'a, str>) {
        let next = match self {
            Parameter::Absent => Parameter::One(value),
            _ => {
                wipe_cow(value);
                Parameter::Repeated
            }
        };
        if let Parameter::One(old) = std::mem::replace(self, next) {
            wipe_cow(old);
        }
    }
}

/// The response parameters of a redirect's query; decoded copies are wiped when dropped.
#[derive(Default)]
pub(super) struct ResponseParameters<'a> {
    pub(super) code: Parameter<'a>,
    pub(super) state: Parameter<'a>,
    pub(super) iss: Parameter<'a>,
    pub(super) error: Parameter<'a>,
    pub(super) error_description: Parameter<'a>,
    pub(super) error_uri: Parameter<'a>,
}

impl<'a> ResponseParameters<'a> {
    pub(super) fn read(query: &'a str) -> Self {
        let mut read = ResponseParameters::default();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let slot = match name.as_ref() {
                "code" => &mut read.code,
                "state" => &mut read.state,
                "iss" => &mut read.iss,
                "error" => &mut read.error,
                "error_description" => &mut read.error_description,
                "error_uri" => &mut read.error_uri,
                // RFC 6749 §4.1.2: the client ignores parameters it does not know.
                _ => {
                    wipe_cow(value);
                    continue;
                }
            };
            slot.add(value);
        }
        read
    }

    /// Whether it holds a response: a `code`, a `state` or an `error`.
    pub(super) fn is_response(&self) -> bool {
        [&self.code, &self.state, &self.error]
            .iter()
            .any(|parameter| !matches!(parameter, Parameter::Absent))
    }

    /// The first parameter sent more than once, but `state`.
    pub(super) fn repeated(&self) -> Option<&'static str> {
        [
            ("iss", &self.iss),
            ("error", &self.error),
            ("error_description", &self.error_description),
            ("error_uri", &self.error_uri),
            ("code", &self.code),
        ]
        .into_iter()
        .find(|(_, parameter)| matches!(parameter, Parameter::Repeated))
        .map(|(name, _)| name)
    }
}

impl Drop for ResponseParameters<'_> {
    fn drop(&mut self) {
        for parameter in [
            &mut self.code,
            &mut self.state,
            &mut self.iss,
            &mut self.error,
            &mut self.error_description,
            &mut self.error_uri,
        ] {
            if let Parameter::One(value) = std::mem::take(parameter) {
                wipe_cow(value);
            }
        }
    }
}

/// Wipes a decoded copy; a borrowed value is the caller's.
pub(super) fn wipe_cow(value: Cow<'_, str>) {
    if let Cow::Owned(mut value) = value {
        value.zeroize();
    }
}

/// The first of `names` that `query` holds as a parameter's name, decoded.
pub(super) fn reserved_in(query: &str, names: &[&str]) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(name, _)| name)
        .find(|name| names.contains(&name.as_ref()))
        .map(Cow::into_owned)
}
