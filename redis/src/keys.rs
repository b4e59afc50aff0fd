//! The keys of one account's shared session. They share a hash tag, so that on Redis
//! Cluster they live in one slot and every script touches one node.

/// The names of an account's keys and channel.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    /// A hash: `revision`, `generation`, `snapshot`.
    pub(crate) session: String,
    /// The renewal lease: the holder's name, with an expiry.
    pub(crate) lease: String,
    /// Where a new revision is announced.
    pub(crate) channel: String,
}

impl Keys {
    /// The keys of `account` under `prefix`: `<prefix>:{<account>}:session` and so on.
    /// An account holds 1 to 200 printable characters, braces excepted (they delimit
    /// the hash tag).
    pub(crate) fn new(prefix: &str, account: &str) -> Option<Self> {
        let valid = |name: &str, max: usize| {
            !name.is_empty()
                && name.len() <= max
                && name
                    .chars()
                    .all(|c| !c.is_control() && c != '{' && c != '}')
        };
        if !valid(account, 200) || !valid(prefix, 100) {
            return None;
        }
        let base = format!("{prefix}:{{{account}}}");
        Some(Keys {
            session: format!("{base}:session"),
            lease: format!("{base}:lease"),
            channel: format!("{base}:changed"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_one_hash_tag_and_refuse_what_would_break_it() {
        let keys = Keys::new("oauth-lifecycle", "convirza-v3:user@example.com").unwrap();
        for key in [&keys.session, &keys.lease, &keys.channel] {
            assert!(key.contains("{convirza-v3:user@example.com}"), "{key}");
        }
        for account in ["", "a}b", "a{b", "line\nbreak", &"x".repeat(201)] {
            assert!(Keys::new("p", account).is_none(), "{account:?}");
        }
    }
}
