//! A person's browser, over loopback: what a test needs to act as the person in an
//! authorization code or device login at a real server (its login, consent and device
//! pages). It keeps cookies by path, posts forms with their hidden fields (CSRF tokens
//! included), and follows redirects, all but the one to the app's redirect URI, which it
//! hands back unfollowed. Requests go through [`send`]: loopback only.

use std::time::SystemTime;

use crate::send;

/// The most redirects one navigation follows.
pub const MOST_HOPS: usize = 12;

/// A response's body as text, for messages.
pub fn body_text(response: &http::Response<Vec<u8>>) -> String {
    String::from_utf8_lossy(response.body()).into_owned()
}

/// A cookie as the browser keeps it: by name and path (RFC 6265 §5.3).
#[derive(Debug)]
pub struct Cookie {
    pub name: String,
    pub value: String,
    pub path: String,
}

/// A person's browser, as far as these servers need one: it keeps cookies by path, posts
/// forms with their hidden fields (CSRF tokens included) and follows redirects, all but
/// the one to the app's redirect URI, which it hands back.
pub struct Browser {
    pub cookies: Vec<Cookie>,
    pub redirect_uri: String,
}

/// A page the browser shows.
#[derive(Debug)]
pub struct Page {
    pub url: String,
    pub html: String,
}

/// Where a navigation ended.
#[derive(Debug)]
pub enum Landing {
    /// A page, for the person to act on.
    Page(Page),
    /// The redirect to the app's redirect URI: the `Location`, not followed.
    Redirect(String),
}

impl Landing {
    #[track_caller]
    pub fn page(self) -> Page {
        match self {
            Landing::Page(page) => page,
            Landing::Redirect(location) => panic!("redirected to the app already: {location}"),
        }
    }

    #[track_caller]
    pub fn redirect(self) -> String {
        match self {
            Landing::Redirect(location) => location,
            Landing::Page(page) => panic!("a page, not a redirect to the app: {page:?}"),
        }
    }
}

impl Browser {
    pub fn new(redirect_uri: &str) -> Self {
        Browser {
            cookies: Vec::new(),
            redirect_uri: redirect_uri.to_owned(),
        }
    }

    /// Opens `url`, following redirects.
    pub fn open(&mut self, url: &str) -> Landing {
        let response = self.fetch(http::Request::get(url).body(Vec::new()).unwrap());
        self.follow(url.to_owned(), response)
    }

    /// Posts `form`, shown on `page`, following redirects.
    pub fn submit(&mut self, page: &Page, form: Form) -> Landing {
        let action = resolve(&page.url, &form.action);
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&form.fields)
            .finish();
        let request = http::Request::post(&action)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", origin(&page.url))
            .header("referer", &page.url)
            .body(body.into_bytes())
            .unwrap();
        let response = self.fetch(request);
        self.follow(action, response)
    }

    /// Sends `request` with the cookies for its path, and keeps the cookies it sets.
    pub fn fetch(&mut self, mut request: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let path = request.uri().path().to_owned();
        let mut cookies: Vec<&Cookie> = self
            .cookies
            .iter()
            .filter(|cookie| path_matches(&path, &cookie.path))
            .collect();
        cookies.sort_by_key(|cookie| std::cmp::Reverse(cookie.path.len()));
        if !cookies.is_empty() {
            let header = cookies
                .iter()
                .map(|cookie| format!("{}={}", cookie.name, cookie.value))
                .collect::<Vec<_>>()
                .join("; ");
            request
                .headers_mut()
                .insert("cookie", header.parse().unwrap());
        }
        let response = send(&request)
            .unwrap_or_else(|error| panic!("{} {}: {error}", request.method(), request.uri()));
        for header in response.headers().get_all("set-cookie") {
            self.keep(&path, header.to_str().expect("an ASCII cookie"));
        }
        response
    }

    /// Keeps, replaces or deletes the cookie a `Set-Cookie` header describes (RFC 6265
    /// §5.2: `Max-Age` wins over `Expires`; a missing `Path` is the request's directory).
    pub fn keep(&mut self, request_path: &str, header: &str) {
        let mut parts = header.split(';');
        let Some((name, value)) = parts.next().and_then(|pair| pair.split_once('=')) else {
            return;
        };
        let (name, value) = (name.trim().to_owned(), value.trim().to_owned());
        let mut path = match request_path.rfind('/') {
            Some(0) | None => "/".to_owned(),
            Some(end) => request_path[..end].to_owned(),
        };
        let (mut max_age, mut expires) = (None, None);
        for attribute in parts {
            let (key, text) = attribute.split_once('=').unwrap_or((attribute, ""));
            let text = text.trim();
            match key.trim().to_ascii_lowercase().as_str() {
                "path" if text.starts_with('/') => path = text.to_owned(),
                "max-age" => max_age = text.parse::<i64>().ok(),
                "expires" => expires = httpdate::parse_http_date(text).ok(),
                _ => {}
            }
        }
        let expired = match (max_age, expires) {
            (Some(seconds), _) => seconds <= 0,
            (None, Some(at)) => at <= SystemTime::now(),
            (None, None) => false,
        };
        self.cookies
            .retain(|cookie| !(cookie.name == name && cookie.path == path));
        if !expired {
            self.cookies.push(Cookie { name, value, path });
        }
    }

    /// Follows redirects from `response` (the answer to `url`) until a page, or until the
    /// redirect to the app.
    pub fn follow(&mut self, mut url: String, mut response: http::Response<Vec<u8>>) -> Landing {
        for _ in 0..MOST_HOPS {
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get("location")
                    .expect("a redirect has a Location")
                    .to_str()
                    .expect("an ASCII Location");
                let next = resolve(&url, location);
                if next.split('?').next() == Some(self.redirect_uri.as_str()) {
                    return Landing::Redirect(next);
                }
                response = self.fetch(http::Request::get(&next).body(Vec::new()).unwrap());
                url = next;
            } else if status == http::StatusCode::OK {
                let html = String::from_utf8(response.into_body()).expect("a UTF-8 page");
                return Landing::Page(Page { url, html });
            } else {
                panic!(
                    "{url} answered {status}: {}",
                    body_text(&response).chars().take(2000).collect::<String>()
                );
            }
        }
        panic!("more than {MOST_HOPS} redirects from {url}");
    }
}

/// Whether a cookie of `cookie_path` goes with a request to `path` (RFC 6265 §5.1.4).
pub fn path_matches(path: &str, cookie_path: &str) -> bool {
    path == cookie_path
        || (path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || path[cookie_path.len()..].starts_with('/')))
}

/// `scheme://authority` of an absolute URL.
pub fn origin(url: &str) -> &str {
    let authority = url.find("://").expect("an absolute URL") + 3;
    match url[authority..].find('/') {
        Some(end) => &url[..authority + end],
        None => url,
    }
}

/// `reference` resolved against the page at `base`: the forms these servers use
/// (absolute, absolute path, empty, query only).
pub fn resolve(base: &str, reference: &str) -> String {
    if reference.starts_with("http://") || reference.starts_with("https://") {
        reference.to_owned()
    } else if reference.starts_with('/') {
        format!("{}{reference}", origin(base))
    } else if reference.is_empty() {
        base.to_owned()
    } else if reference.starts_with('?') {
        format!("{}{reference}", base.split('?').next().unwrap_or(base))
    } else {
        panic!("a relative reference this browser does not resolve: {reference}")
    }
}

/// A form as the page shows it: where it posts, the fields it sends, and its named
/// submit buttons, of which only the one clicked is sent.
#[derive(Debug, Clone)]
pub struct Form {
    pub action: String,
    pub fields: Vec<(String, String)>,
    pub buttons: Vec<(String, String)>,
}

impl Form {
    /// Types `value` into the field `name`.
    #[track_caller]
    pub fn fill(mut self, name: &str, value: &str) -> Self {
        let field = self
            .fields
            .iter_mut()
            .find(|(field, _)| field == name)
            .unwrap_or_else(|| panic!("no field {name} in {:?}", self.action));
        field.1 = value.to_owned();
        self
    }

    /// Clicks the submit button `name`: its value is sent.
    #[track_caller]
    pub fn click(mut self, name: &str) -> Self {
        let button = self
            .buttons
            .iter()
            .find(|(button, _)| button == name)
            .unwrap_or_else(|| panic!("no button {name} in {:?}", self.buttons))
            .clone();
        self.fields.push(button);
        self
    }

    pub fn field(&self, name: &str) -> Option<&str> {
        value(&self.fields, name)
    }
}

impl Page {
    /// The form that has a field or button `name`.
    #[track_caller]
    pub fn form_with(&self, name: &str) -> Form {
        let mut rest = self.html.as_str();
        while let Some(start) = rest.find("<form") {
            let (attributes, after) = tag(&rest[start..]);
            let end = after.find("</form>").unwrap_or(after.len());
            let (inner, next) = after.split_at(end);
            let form = form(&attributes, inner);
            if form
                .fields
                .iter()
                .chain(&form.buttons)
                .any(|(field, _)| field == name)
            {
                return form;
            }
            rest = next;
        }
        panic!("no form with {name} on {}: {}", self.url, self.html);
    }

    /// The `href` of the first link whose target ends with `suffix`.
    #[track_caller]
    pub fn link_ending(&self, suffix: &str) -> String {
        let mut rest = self.html.as_str();
        while let Some(start) = rest.find("<a ") {
            let (attributes, after) = tag(&rest[start..]);
            if let Some(href) = value(&attributes, "href") {
                if href.ends_with(suffix) {
                    return href.to_owned();
                }
            }
            rest = after;
        }
        panic!("no link to …{suffix} on {}", self.url);
    }
}

/// A form's fields and buttons, from its attributes and its inner HTML.
pub fn form(attributes: &[(String, String)], mut inner: &str) -> Form {
    let mut form = Form {
        action: value(attributes, "action").unwrap_or("").to_owned(),
        fields: Vec::new(),
        buttons: Vec::new(),
    };
    while let Some(start) = inner.find("<input") {
        let (input, after) = tag(&inner[start..]);
        inner = after;
        let Some(name) = value(&input, "name") else {
            continue;
        };
        let entry = (
            name.to_owned(),
            value(&input, "value").unwrap_or("").to_owned(),
        );
        match value(&input, "type").unwrap_or("text") {
            "submit" => form.buttons.push(entry),
            "hidden" | "text" | "password" | "email" => form.fields.push(entry),
            _ => {}
        }
    }
    form
}

/// The attributes of the tag `html` starts with (values unescaped; a bare attribute's
/// value is empty), and the text after it.
pub fn tag(html: &str) -> (Vec<(String, String)>, &str) {
    let bytes = html.as_bytes();
    let mut at = html
        .find(|c: char| c.is_ascii_whitespace() || c == '>')
        .unwrap_or(html.len());
    let mut attributes = Vec::new();
    loop {
        while at < bytes.len() && (bytes[at].is_ascii_whitespace() || bytes[at] == b'/') {
            at += 1;
        }
        if at >= bytes.len() {
            return (attributes, "");
        }
        if bytes[at] == b'>' {
            return (attributes, &html[at + 1..]);
        }
        let start = at;
        while at < bytes.len()
            && !matches!(bytes[at], b'=' | b'>' | b'/')
            && !bytes[at].is_ascii_whitespace()
        {
            at += 1;
        }
        let name = html[start..at].to_ascii_lowercase();
        let mut text = String::new();
        if bytes.get(at) == Some(&b'=') {
            at += 1;
            match bytes.get(at) {
                Some(&quote @ (b'"' | b'\'')) => {
                    let end = html[at + 1..]
                        .find(quote as char)
                        .map_or(html.len(), |end| at + 1 + end);
                    text = unescape(&html[at + 1..end]);
                    at = (end + 1).min(html.len());
                }
                _ => {
                    let start = at;
                    while at < bytes.len() && bytes[at] != b'>' && !bytes[at].is_ascii_whitespace()
                    {
                        at += 1;
                    }
                    text = unescape(&html[start..at]);
                }
            }
        }
        attributes.push((name, text));
    }
}

/// The character references the servers' templates write.
pub fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&")
}

pub fn value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}
