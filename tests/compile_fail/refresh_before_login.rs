// A session that never logged in has nothing to refresh.
use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::{Policy, Session};
use time::macros::utc_datetime;

fn main() {
    let dialect = Standard::builder("https://auth.example.com/token", "client").build().unwrap();
    let session = Session::new(dialect, Policy::default()).unwrap();
    let _ = session.refresh(utc_datetime!(2026-01-01 00:00:00));
}
