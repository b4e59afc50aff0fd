//! The search for echoed secrets ([`Secrets`]) against a plain reference: every form of
//! every secret is found wherever it sits, texts without one are left alone, and a
//! redacted text holds no form of any secret, whatever overlaps.

use oauth_lifecycle::dialect::Secrets;
use oauth_lifecycle_testkit::echo::{echo_forms, ECHO_FORMS};
use proptest::prelude::*;

/// The reference: a text holds a secret when it contains one of its forms.
fn holds(text: &str, secrets: &[String]) -> bool {
    secrets
        .iter()
        .filter(|secret| !secret.is_empty())
        .flat_map(|secret| echo_forms(secret))
        .any(|form| text.contains(&form))
}

/// Whether a redacted text still holds a secret between its markers (a one-letter secret
/// is in the marker's own letters).
fn leaks(redacted: &str, secrets: &[String]) -> bool {
    redacted
        .split("[redacted]")
        .any(|piece| holds(piece, secrets))
}

/// Secrets as servers issue them, and as people choose them (any Unicode).
fn secret() -> impl Strategy<Value = String> {
    prop_oneof!["[A-Za-z0-9._~+/=-]{1,48}", "\\PC{1,12}", "[ -~]{1,16}",]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_form_is_found_anywhere_and_redacted_whole(
        secrets in proptest::collection::vec(secret(), 1..4),
        which in 0_usize..4,
        form in 0..ECHO_FORMS,
        before in "\\PC{0,24}",
        after in "\\PC{0,24}",
    ) {
        let set = Secrets::new(secrets.iter().map(String::as_str));
        let echoed = &echo_forms(&secrets[which % secrets.len()])[form];
        let text = format!("{before}{echoed}{after}");
        prop_assert!(set.is_echoed_in(&text));
        let redacted = set.redact(&text);
        prop_assert!(!leaks(&redacted, &secrets), "{redacted:?}");
        prop_assert!(redacted.contains("[redacted]"));
    }

    #[test]
    fn the_search_agrees_with_the_reference_on_any_text(
        secrets in proptest::collection::vec(secret(), 1..4),
        text in prop_oneof!["\\PC{0,64}", "[a-z0-9 %+/=]{0,64}"],
    ) {
        let set = Secrets::new(secrets.iter().map(String::as_str));
        prop_assert_eq!(set.is_echoed_in(&text), holds(&text, &secrets));
        let redacted = set.redact(&text);
        if holds(&text, &secrets) {
            prop_assert!(!leaks(&redacted, &secrets), "{redacted:?}");
        } else {
            prop_assert_eq!(redacted, text);
        }
    }

    #[test]
    fn overlapping_and_repeated_echoes_leave_no_form(
        secrets in proptest::collection::vec("[a-c]{1,6}", 1..4),
        text in "[a-c ]{0,48}",
    ) {
        // A three-letter alphabet makes overlaps, repeats and touching echoes common.
        let set = Secrets::new(secrets.iter().map(String::as_str));
        let redacted = set.redact(&text);
        prop_assert!(!leaks(&redacted, &secrets), "{text:?} became {redacted:?}");
    }
}

#[test]
fn debug_shows_how_many_never_which() {
    let set = Secrets::new(["s3cret-value", "hunter2"]);
    let shown = format!("{set:?}");
    assert_eq!(shown, "Secrets(2 redacted)");
    assert!(set.iter().eq(["s3cret-value", "hunter2"]));
    assert!(Secrets::none().is_empty());
}
