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

use super::states::{
    Active, AuthorizingDevice, AwaitingApproval, AwaitingRedirect, ExchangingCode, Expiring,
    LoggingIn, PendingRevocation, Refreshing, Revoked, Revoking, Unauthenticated,
};
use super::Session;
use crate::dialect::Dialect;
use crate::token::TokenSet;

mod sealed {
    pub trait Sealed {}
}
use sealed::Sealed;

/// A session state. Sealed: the set of states is fixed.
pub trait State: Sealed {
    /// What the state holds of the tokens, for a dialect whose extras are `E`.
    type Tokens<E>;
    /// The state's name, for messages.
    const NAME: &'static str;
    /// The state as the transition table names it.
    const STATE: StateName;
}

/// Declares the states, once: each row gives the state's type, what it holds of the
/// tokens, its name in words, what it holds, the caller's next move, and its part of a
/// snapshot. From the rows come [`StateName`], the [`State`] impls, [`AnySession`] with
/// its conversions, `each_state!` (the match over every state, which routes every input
/// of `AnySession`), and `stored_states!` (from which the snapshot's state enum is
/// generated). (`$d` is a `$` handed in by the caller, so
/// that this macro can write the metavariables of the one it defines.)
macro_rules! states {
    ($d:tt $(
        $state:ident {
            tokens: $tokens:ty,
            words: $words:literal,
            holds: $holds:literal,
            next: $next:literal,
            stored: $stored:ty $(,)?
        }
    )*) => {
        /// One of the session's states, named as its type.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum StateName {
            $(
                #[doc = concat!("[`", stringify!($state), "`](crate::", stringify!($state), ").")]
                $state,
            )*
        }

        impl StateName {
            /// Every state, in the order of the lifecycle.
            pub const ALL: &'static [StateName] = &[$(StateName::$state),*];

            /// The state's type name: `LoggingIn`.
            pub const fn type_name(self) -> &'static str {
                match self {
                    $(StateName::$state => stringify!($state),)*
                }
            }

            /// The state in words, as [`State::NAME`] and status lines show it:
            /// `logging in`.
            pub const fn words(self) -> &'static str {
                match self {
                    $(StateName::$state => $words,)*
                }
            }

            /// What a session in this state holds, in words.
            pub const fn holds(self) -> &'static str {
                match self {
                    $(StateName::$state => $holds,)*
                }
            }

            /// What the caller must do next with a session in this state.
            pub const fn next_move(self) -> &'static str {
                match self {
                    $(StateName::$state => $next,)*
                }
            }
        }

        $(
            impl Sealed for $state {}

            impl State for $state {
                type Tokens<E> = $tokens;
                const NAME: &'static str = $words;
                const STATE: StateName = StateName::$state;
            }
        )*

        /// A session in any state, for storage, snapshots and adapters.
        ///
        /// Converts from every `Session<S, D>` with `From`, and back with `TryFrom` (which
        /// gives the session back unchanged when the state does not match). Its inputs route
        /// to the state's own transition; [`Driver`](crate::Driver) wraps them in the drain
        /// loop.
        #[derive(Debug)]
        #[non_exhaustive]
        pub enum AnySession<D: Dialect> {
            $(
                #[doc = concat!("See [`", stringify!($state), "`].")]
                $state(Session<$state, D>),
            )*
        }

        $(
            impl<D: Dialect> From<Session<$state, D>> for AnySession<D> {
                fn from(session: Session<$state, D>) -> Self {
                    AnySession::$state(session)
                }
            }

            impl<D: Dialect> TryFrom<AnySession<D>> for Session<$state, D> {
                type Error = AnySession<D>;
                fn try_from(session: AnySession<D>) -> Result<Self, AnySession<D>> {
                    match session {
                        AnySession::$state(session) => Ok(session),
                        other => Err(other),
                    }
                }
            }
        )*

        /// Runs `$body` with `$s` bound to the session, whatever its state.
        macro_rules! each_state {
            ($d session:expr, $d s:ident => $d body:expr) => {
                match $d session {
                    $(AnySession::$state($d s) => $d body,)*
                }
            };
        }
        pub(super) use each_state;

        /// Calls `$callback! { State: Form, ... }` with every state and its part of a
        /// snapshot (a type in `E`, the dialect's extra fields): the snapshot's state
        /// enum is generated from it.
        macro_rules! stored_states {
            ($d callback:ident) => {
                $d callback! { $($state: $stored),* }
            };
        }
        pub(super) use stored_states;
    };
}

states! {
    $
    Unauthenticated {
        tokens: (),
        words: "unauthenticated",
        holds: "backoff, halt reason",
        next: "`login(now)`; `on_timeout(now)` logs in when due unless halted",
        stored: UnauthenticatedForm,
    }
    LoggingIn {
        tokens: (),
        words: "logging in",
        holds: "the login in flight",
        next: "hand back its response or transport error",
        stored: LoggingInForm,
    }
    AuthorizingDevice {
        tokens: (),
        words: "authorizing a device",
        holds: "the device authorization request in flight",
        next: "hand back its response or transport error",
        stored: AuthorizingDeviceForm,
    }
    AwaitingApproval {
        tokens: (),
        words: "awaiting approval",
        holds: "the device code, the person's prompt, the polling schedule, a poll in flight",
        next: "show the person the prompt; show the session the time (it polls); hand back \
               each poll's response",
        stored: AwaitingApprovalForm,
    }
    AwaitingRedirect {
        tokens: (),
        words: "awaiting the redirect",
        holds: "the authorization request (state, PKCE verifier), its deadline",
        next: "open the prompt's URL in the person's browser; hand back the redirect",
        stored: AwaitingRedirectForm,
    }
    ExchangingCode {
        tokens: (),
        words: "exchanging the code",
        holds: "the code exchange in flight, never sent again",
        next: "hand back its response or transport error",
        stored: ExchangingCodeForm,
    }
    Active {
        tokens: TokenSet<E>,
        words: "active",
        holds: "token set",
        next: "hand out the token; report 401s, successful calls, time",
        stored: ActiveForm<E>,
    }
    Expiring {
        tokens: TokenSet<E>,
        words: "expiring",
        holds: "token set, backoff, halt reason",
        next: "`refresh(now)` after `retry_at`; `on_timeout(now)` renews when due, halts \
               without credentials, withdraws the token at its hard expiry",
        stored: ExpiringForm<E>,
    }
    Refreshing {
        tokens: TokenSet<E>,
        words: "refreshing",
        holds: "token set, the renewal in flight",
        next: "hand back its response; the old token is still served",
        stored: RefreshingForm<E>,
    }
    Revoking {
        tokens: PendingRevocation,
        words: "revoking",
        holds: "tokens left to revoke, the revocation in flight",
        next: "hand back its response",
        stored: RevokingForm,
    }
    Revoked {
        tokens: (),
        words: "revoked",
        holds: "nothing",
        next: "nothing: terminal",
        stored: RevokedForm,
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
    Unauthenticated --"device login" / [authorize_device]--> AuthorizingDevice;
    AuthorizingDevice --"code issued" / [on_response]--> AwaitingApproval;
    AuthorizingDevice --"failure" / [on_response, on_transport_error, on_timeout]--> Unauthenticated;
    AwaitingApproval --"poll, pending, slow down, retry" / [on_timeout, on_response, on_transport_error]--> AwaitingApproval;
    AwaitingApproval --"approved" / [on_response]--> Active;
    AwaitingApproval --"denied, expired, refused, cancelled" / [on_response, on_timeout, cancel]--> Unauthenticated;
    Expiring --"device login, refresh grant dead" / [authorize_device]--> AuthorizingDevice;
    Unauthenticated --"browser login" / [authorize]--> AwaitingRedirect;
    Expiring --"browser login, refresh grant dead" / [authorize]--> AwaitingRedirect;
    AwaitingRedirect --"redirect with a code" / [on_redirect]--> ExchangingCode;
    AwaitingRedirect --"redirect refused, expired, cancelled" / [on_redirect, on_timeout, cancel]--> Unauthenticated;
    ExchangingCode --"success" / [on_response]--> Active;
    ExchangingCode --"failure, never resent" / [on_response, on_transport_error, on_timeout]--> Unauthenticated;
    Unauthenticated --"revoke" / [revoke]--> Revoked;
    AuthorizingDevice --"revoke" / [revoke]--> Revoked;
    AwaitingApproval --"revoke" / [revoke]--> Revoked;
    AwaitingApproval --"revoke, awaiting the poll" / [revoke]--> Revoking;
    AwaitingRedirect --"revoke" / [revoke]--> Revoked;
    ExchangingCode --"revoke, awaiting the exchange" / [revoke]--> Revoking;
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
        for &state in StateName::ALL {
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
