//! A read side published from events alone, as an adapter keeps one: it must always
//! agree with what the driver would hand out, without ever asking the driver.

use oauth_lifecycle::{BearerToken, CurrentToken, Event, Generation};
use time::UtcDateTime;

#[derive(Default)]
pub struct ReadSide {
    published: Option<(Generation, BearerToken, UtcDateTime)>,
    last_generation: Generation,
}

impl ReadSide {
    /// Applies one event, checking that generations only ever grow by one.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::TokenIssued {
                token,
                generation,
                valid_until,
                ..
            } => {
                assert_eq!(
                    generation.get(),
                    self.last_generation.get() + 1,
                    "generations grow by one"
                );
                self.last_generation = *generation;
                self.published = Some((*generation, token.clone(), *valid_until));
            }
            Event::TokenRestored {
                token,
                generation,
                valid_until,
                ..
            } => {
                assert!(
                    *generation >= self.last_generation,
                    "restored an older token"
                );
                self.last_generation = *generation;
                self.published = Some((*generation, token.clone(), *valid_until));
            }
            Event::TokenExtended {
                generation,
                valid_until,
                ..
            } => {
                let published = self.published.as_mut().expect("an extension of no token");
                assert_eq!(published.0, *generation, "an extension of another token");
                assert!(*valid_until >= published.2, "an extension that shortens");
                published.2 = *valid_until;
            }
            Event::TokenWithdrawn { generation, .. } => {
                let published = self.published.take().expect("a withdrawal of no token");
                assert_eq!(published.0, *generation, "a withdrawal of another token");
            }
            _ => {}
        }
    }

    /// What a reader would get at `now`, reading no clock but the one it was given.
    pub fn read(&self, now: UtcDateTime) -> Option<(Generation, &BearerToken)> {
        self.published
            .as_ref()
            .filter(|(_, _, valid_until)| now < *valid_until)
            .map(|(generation, token, _)| (*generation, token))
    }

    /// Checks that the read side agrees with the driver's own answer at `now`.
    pub fn agrees_with(&self, driver: Option<CurrentToken<'_>>, now: UtcDateTime) {
        let read = self.read(now);
        match (read, driver) {
            (None, None) => {}
            (Some((generation, token)), Some(current)) => {
                assert_eq!(
                    generation,
                    current.generation(),
                    "published another generation"
                );
                assert_eq!(token.secret(), current.secret(), "published another token");
                assert!(
                    token.ptr_eq(current.bearer()),
                    "the token bytes were copied"
                );
            }
            (read, driver) => panic!(
                "the read side says {:?}, the driver says {:?}",
                read.map(|(g, _)| g),
                driver.map(|c| c.generation())
            ),
        }
    }
}
