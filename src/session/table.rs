//! The session's states and every transition between them, as data: the one list.
//!
//! The typestates make a wrong transition a compile error; this table says which ones
//! exist, in one place the rest is checked against:
//! - [`AnySession`](super::AnySession) checks every move it routes against it (in debug
//!   builds, so every test, model and fuzz run is also a run of the table), and a move
//!   the table does not list fails there;
//! - the state diagram and the table in `docs/architecture.md` are generated from it
//!   (`tests/architecture_doc.rs`);
//! - `tests/transition_table.rs` drives every row through every method it names.
//!
//! Each [`Transition`] reads `from --on / methods--> to`: the typestate methods named
//! perform it. A method that leaves the session where it was (nothing due, a stale 401)
//! is not a transition; a row that starts and ends in one state is one that does
//! something there (another revocation request, a token dropped).

use std::fmt;

/// One of the session's states, named as its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StateName {
    /// [`Unauthenticated`](super::Unauthenticated).
    Unauthenticated,
    /// [`LoggingIn`](super::LoggingIn).
    LoggingIn,
    /// [`Active`](super::Active).
    Active,
    /// [`Expiring`](super::Expiring).
    Expiring,
    /// [`Refreshing`](super::Refreshing).
    Refreshing,
    /// [`Revoking`](super::Revoking).
    Revoking,
    /// [`Revoked`](super::Revoked).
    Revoked,
}

impl StateName {
    /// Every state, in the order of the lifecycle.
    pub const ALL: [StateName; 7] = [
        StateName::Unauthenticated,
        StateName::LoggingIn,
        StateName::Active,
        StateName::Expiring,
        StateName::Refreshing,
        StateName::Revoking,
        StateName::Revoked,
    ];

    /// The state's type name: `LoggingIn`.
    pub const fn type_name(self) -> &'static str {
        match self {
            StateName::Unauthenticated => "Unauthenticated",
            StateName::LoggingIn => "LoggingIn",
            StateName::Active => "Active",
            StateName::Expiring => "Expiring",
            StateName::Refreshing => "Refreshing",
            StateName::Revoking => "Revoking",
            StateName::Revoked => "Revoked",
        }
    }

    /// The state in words, as [`State::NAME`](super::State::NAME) and status lines
    /// show it: `logging in`.
    pub const fn words(self) -> &'static str {
        match self {
            StateName::Unauthenticated => "unauthenticated",
            StateName::LoggingIn => "logging in",
            StateName::Active => "active",
            StateName::Expiring => "expiring",
            StateName::Refreshing => "refreshing",
            StateName::Revoking => "revoking",
            StateName::Revoked => "revoked",
        }
    }
}

impl StateName {
    /// What a session in this state holds, in words.
    pub const fn holds(self) -> &'static str {
        match self {
            StateName::Unauthenticated => "backoff, halt reason",
            StateName::LoggingIn => "the login in flight",
            StateName::Active => "token set",
            StateName::Expiring => "token set, backoff, halt reason",
            StateName::Refreshing => "token set, the renewal in flight",
            StateName::Revoking => "tokens left to revoke, the revocation in flight",
            StateName::Revoked => "nothing",
        }
    }

    /// What the caller must do next with a session in this state.
    pub const fn next_move(self) -> &'static str {
        match self {
            StateName::Unauthenticated => {
                "`login(now)`; `on_timeout(now)` logs in when due unless halted"
            }
            StateName::LoggingIn => "hand back its response or transport error",
            StateName::Active => "hand out the token; report 401s, successful calls, time",
            StateName::Expiring => {
                "`refresh(now)` after `retry_at`; `on_timeout(now)` renews when due, halts \
                 without credentials, withdraws the token at its hard expiry"
            }
            StateName::Refreshing => "hand back its response; the old token is still served",
            StateName::Revoking => "hand back its response",
            StateName::Revoked => "nothing: terminal",
        }
    }
}

impl fmt::Display for StateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.words())
    }
}

/// One transition: from a state, on an input, by the typestate methods named, to a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// Where it starts.
    pub from: StateName,
    /// What happens, in words: `failure`, `revoke, awaiting the login`.
    pub on: &'static str,
    /// The typestate methods that perform it.
    pub methods: &'static [&'static str],
    /// Where it lands.
    pub to: StateName,
}

impl fmt::Display for Transition {
    /// `From --on / method, method--> To`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} --{} / {}--> {}",
            self.from.type_name(),
            self.on,
            self.methods.join(", "),
            self.to.type_name()
        )
    }
}

macro_rules! transitions {
    ($($from:ident --$on:literal / [$($method:ident),+]--> $to:ident;)*) => {
        /// Every transition of the session, in the order the docs show them.
        pub const TRANSITIONS: &[Transition] = &[$(Transition {
            from: StateName::$from,
            on: $on,
            methods: &[$(stringify!($method)),+],
            to: StateName::$to,
        }),*];
    };
}

transitions! {
    Unauthenticated --"login" / [login, on_timeout]--> LoggingIn;
    Unauthenticated --"adopt" / [adopt]--> Active;
    LoggingIn --"success" / [on_response]--> Active;
    LoggingIn --"failure" / [on_response, on_transport_error, on_timeout]--> Unauthenticated;
    Active --"refresh moment" / [on_timeout]--> Expiring;
    Active --"401 reported" / [on_unauthorized]--> Expiring;
    Active --"renewal asked" / [renew]--> Expiring;
    Expiring --"renewal" / [refresh, on_timeout]--> Refreshing;
    Expiring --"call succeeded, expiry slid" / [on_call_succeeded]--> Active;
    Expiring --"halted past hard expiry" / [on_timeout]--> Unauthenticated;
    Refreshing --"success" / [on_response]--> Active;
    Refreshing --"failure" / [on_response, on_transport_error, on_timeout]--> Expiring;
    Unauthenticated --"revoke" / [revoke]--> Revoked;
    LoggingIn --"revoke, awaiting the login" / [revoke]--> Revoking;
    Active --"revoke" / [revoke]--> Revoking;
    Active --"revoke, no revocation endpoint" / [revoke]--> Revoked;
    Expiring --"revoke" / [revoke]--> Revoking;
    Expiring --"revoke, no revocation endpoint" / [revoke]--> Revoked;
    Refreshing --"revoke, awaiting the refresh" / [revoke]--> Revoking;
    Revoking --"answer, more to revoke, or a retry" / [on_response, on_transport_error, on_timeout]--> Revoking;
    Revoking --"last answer" / [on_response, on_transport_error, on_timeout]--> Revoked;
    Active --"refresh token spent elsewhere" / [on_refresh_token_spent_elsewhere]--> Active;
    Active --"refresh token spent elsewhere, no credentials" / [on_refresh_token_spent_elsewhere]--> Expiring;
    Expiring --"refresh token spent elsewhere" / [on_refresh_token_spent_elsewhere]--> Expiring;
    Refreshing --"refresh token spent elsewhere, refreshing with it" / [on_refresh_token_spent_elsewhere]--> Expiring;
    Refreshing --"refresh token spent elsewhere, logging in" / [on_refresh_token_spent_elsewhere]--> Refreshing;
}

/// Whether the table lets `method`, called on a session in `from`, leave it in `to`. A
/// method that leaves the session in its state is always allowed: it moved nothing.
pub(crate) fn allows(from: StateName, method: &str, to: StateName) -> bool {
    from == to
        || TRANSITIONS
            .iter()
            .any(|row| row.from == from && row.to == to && row.methods.contains(&method))
}

/// Checks a move the router made against the table, in debug builds: a move the table
/// does not list is a bug in this crate, found by whichever test made it.
#[inline]
pub(crate) fn check(from: StateName, method: &'static str, to: StateName) {
    debug_assert!(
        allows(from, method, to),
        "`{method}` moved a session from {} to {}: the transition table has no such row",
        from.type_name(),
        to.type_name()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_is_reached_and_every_state_but_the_last_is_left() {
        for state in StateName::ALL {
            let reached = TRANSITIONS.iter().any(|row| row.to == state);
            let left = TRANSITIONS
                .iter()
                .any(|row| row.from == state && row.to != state);
            assert!(
                reached || state == StateName::Unauthenticated,
                "{state} is never reached"
            );
            assert!(left || state == StateName::Revoked, "{state} is never left");
        }
    }

    #[test]
    fn the_table_allows_its_rows_and_nothing_else() {
        assert!(allows(
            StateName::Expiring,
            "refresh",
            StateName::Refreshing
        ));
        assert!(allows(StateName::Active, "renew", StateName::Active));
        assert!(!allows(
            StateName::Active,
            "on_response",
            StateName::Revoked
        ));
        assert!(!allows(StateName::Revoked, "login", StateName::LoggingIn));
        assert_eq!(
            TRANSITIONS[0].to_string(),
            "Unauthenticated --login / login, on_timeout--> LoggingIn"
        );
    }
}
