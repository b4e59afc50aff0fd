// An active session has no request in flight: there is nothing to answer.
use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::{Active, Session};
use time::macros::utc_datetime;

fn answer(session: Session<Active, Standard>, response: http::Response<Vec<u8>>) {
    let id = session.next_request_id();
    let _ = session.on_response(id, &response, utc_datetime!(2026-01-01 00:00:00));
}

fn main() {}
