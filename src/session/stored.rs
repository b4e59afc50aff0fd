//! How a state is kept in a [`Snapshot`](super::Snapshot): each state's file declares its
//! part of a snapshot (its form) and implements [`Persist`] to write and read it. The
//! snapshot's state enum is generated from the state list in `table.rs`, so a new state
//! adds no code to `snapshot.rs`.

use oauth2::RefreshToken;

use super::states::{Flight, Halt};
use super::Core;
use crate::bearer::BearerToken;
use crate::dialect::{Dialect, ExtraFields};
use crate::token::TokenSet;

/// What a redacted snapshot shows instead of a secret.
pub(crate) const REDACTED: &str = "[redacted]";

/// Writes a state into its form and reads it back.
pub(crate) trait Persist<D: Dialect>: Sized {
    /// The state's part of a snapshot.
    type Form;

    /// The form of this state; with `secrets` false, every token is `[redacted]`.
    fn store(&self, secrets: bool) -> Self::Form;

    /// The state again, from its form, with `core`. A request the form shows in flight is
    /// marked lost: the process that sent it is gone.
    fn restore(core: Core<D>, form: Self::Form) -> Self;
}

/// The parts of a form a snapshot checks before it is restored.
pub(crate) struct Parts<'a, E> {
    /// The token set the state holds.
    pub(crate) tokens: Option<&'a mut TokenSet<E>>,
    /// The request in flight.
    pub(crate) flight: Option<&'a Flight>,
    /// Why automatic renewal stopped, kept as a server's words.
    pub(crate) halt: Option<&'a mut Halt>,
}

impl<E> Default for Parts<'_, E> {
    fn default() -> Self {
        Parts {
            tokens: None,
            flight: None,
            halt: None,
        }
    }
}

/// A state's form, as the snapshot checks it.
pub(crate) trait Form<E> {
    /// The parts the snapshot checks; none by default.
    fn parts(&mut self) -> Parts<'_, E> {
        Parts::default()
    }

    /// What only this state can say is inconsistent.
    fn check(&self) -> Result<(), &'static str> {
        Ok(())
    }
}

/// `tokens` as a snapshot keeps them: in clear with `secrets`, else redacted.
pub(crate) fn stored_tokens<E: ExtraFields>(tokens: &TokenSet<E>, secrets: bool) -> TokenSet<E> {
    let mut tokens = tokens.clone();
    if !secrets {
        tokens.bearer = BearerToken::redacted();
        tokens.refresh_token = tokens
            .refresh_token
            .take()
            .map(|_| RefreshToken::new(REDACTED.to_owned()));
        tokens.extra.redact();
    }
    tokens
}

/// A token as a snapshot keeps it: in clear with `secrets`, else redacted.
pub(crate) fn stored_secret(value: &str, secrets: bool) -> String {
    if secrets { value } else { REDACTED }.to_owned()
}
