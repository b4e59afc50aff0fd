// A redirect can only be handed to a session awaiting one: a session that never started
// a browser login has no `on_redirect`.
use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::{Policy, Session};
use time::macros::utc_datetime;

fn main() {
    let dialect = Standard::builder("https://auth.example.com/token", "id")
        .client_secret("secret")
        .build()
        .unwrap();
    let session = Session::new(dialect, Policy::default()).unwrap();
    let _ = session.on_redirect("/callback?code=c&state=s", utc_datetime!(2026-01-01 00:00:00));
}
