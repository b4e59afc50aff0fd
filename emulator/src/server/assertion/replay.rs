//! The replay check: a `jti` is accepted once, and remembered until its `exp`.

use std::collections::HashMap;

use time::{Duration, UtcDateTime};

use super::*;

/// The `jti`s of accepted assertions, each kept until its `exp` (plus the leeway) has
/// passed, when the assertion could no longer be accepted anyway.
#[derive(Debug, Default)]
pub(crate) struct ReplayCache {
    seen: HashMap<(String, String), UtcDateTime>,
}

impl ReplayCache {
    /// Accepts `verified` if its `(iss, jti)` is new, and remembers it.
    pub(crate) fn admit(
        &mut self,
        verified: &Verified,
        rules: &AssertionRules,
        now: UtcDateTime,
    ) -> Result<(), Refusal> {
        let leeway = rules.leeway.max(Duration::ZERO);
        self.seen
            .retain(|_, expires_at| expires_at.saturating_add(leeway) > now);
        let id = (verified.issuer.clone(), verified.jti.clone());
        if self.seen.contains_key(&id) {
            return Err(Refusal::Replayed);
        }
        if self.seen.len() >= MAX_REMEMBERED {
            return Err(Refusal::Busy);
        }
        self.seen.insert(id, verified.expires_at);
        Ok(())
    }

    /// How many assertions are remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.seen.len()
    }
}
