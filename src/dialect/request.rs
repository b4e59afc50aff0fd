//! Building request descriptions: the parts every dialect shares.

use http::header::{HeaderValue, ACCEPT, CONTENT_TYPE};

use super::url::Endpoint;

pub(crate) const FORM: HeaderValue = HeaderValue::from_static("application/x-www-form-urlencoded");
pub(crate) const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A `POST` of `body` to `endpoint` with the given content type, accepting JSON.
pub(crate) fn post(
    endpoint: &Endpoint,
    content_type: HeaderValue,
    body: Vec<u8>,
) -> http::Request<Vec<u8>> {
    let mut request = http::Request::new(body);
    *request.method_mut() = http::Method::POST;
    *request.uri_mut() = endpoint.uri().clone();
    let headers = request.headers_mut();
    headers.insert(CONTENT_TYPE, content_type);
    headers.insert(ACCEPT, JSON);
    request
}

/// A flat JSON object of string fields, in the given order, escaped by serde_json.
pub(crate) fn json_object(fields: &[(&str, &str)]) -> Vec<u8> {
    let capacity = fields
        .iter()
        .map(|(k, v)| k.len() + v.len() + 6)
        .sum::<usize>()
        + 2;
    let mut body = Vec::with_capacity(capacity);
    body.push(b'{');
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        // Writing a string to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut body, name);
        body.push(b':');
        let _ = serde_json::to_writer(&mut body, value);
    }
    body.push(b'}');
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_objects_escape_every_awkward_character() {
        let awkward = "p&ss=w+rd %\"é\n\\\u{1}";
        let body = json_object(&[("email", "a@b.c"), ("password", awkward)]);
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed["password"], awkward);
        assert_eq!(parsed["email"], "a@b.c");
        assert!(std::str::from_utf8(&body)
            .unwrap()
            .starts_with(r#"{"email":"a@b.c","#));
    }
}
