//! How the request snapshots show a request.

use oauth_lifecycle::TokenRequest;

/// Purpose, method, URI, headers (sorted), the decoded form fields when the body is a
/// form, and the raw body, one item a line.
pub fn render(request: &TokenRequest) -> String {
    format!(
        "purpose: {}\nresend_safe: {}\n{}",
        request.purpose(),
        request.is_resend_safe(),
        render_http(request.request())
    )
}

/// Method, URI, headers (sorted), the decoded form fields when the body is a form, and
/// the raw body, one item a line.
pub fn render_http(http: &http::Request<Vec<u8>>) -> String {
    let mut out = format!("{} {}\n", http.method(), http.uri());
    let mut headers: Vec<_> = http
        .headers()
        .iter()
        .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap()))
        .collect();
    headers.sort();
    for header in headers {
        out.push_str(&header);
        out.push('\n');
    }
    let form = http
        .headers()
        .get("content-type")
        .is_some_and(|value| value == "application/x-www-form-urlencoded");
    if form {
        // Every field has a name: no empty pair from a stray separator.
        let raw = String::from_utf8_lossy(http.body());
        assert!(
            raw.split('&')
                .all(|pair| !pair.is_empty() && !pair.starts_with('=')),
            "a form body with an empty field: {raw}"
        );
        out.push_str("body:\n");
        for (name, value) in form_urlencoded::parse(http.body()) {
            out.push_str(&format!("  {name} = {value:?}\n"));
        }
    }
    out.push_str(&format!("raw: {}\n", String::from_utf8_lossy(http.body())));
    out
}
