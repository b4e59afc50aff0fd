//! The no-hot-loop invariant the property models share.

use oauth_lifecycle::RequestBudget;
use time::UtcDateTime;

/// Whatever the servers answer and however time moves, the token-endpoint requests in
/// any window of the policy's `token_request_budget` never exceed its count. `sent` holds
/// when each login and refresh left, oldest first; called at each request, it checks the
/// window ending at the newest, so together the calls check every window.
pub fn assert_no_token_endpoint_storm(sent: &[UtcDateTime], budget: RequestBudget) {
    let Some(newest) = sent.last() else {
        return;
    };
    let in_window = sent
        .iter()
        .filter(|at| **at > *newest - budget.per())
        .count();
    assert!(
        in_window <= budget.requests() as usize,
        "{in_window} token-endpoint requests within {} before {newest}",
        budget.per()
    );
}
