//! The snapshot format is a promise to every store that holds one: a snapshot written by
//! an earlier build reads back, and writes out again byte for byte. The restore fuzz
//! seeds (`fuzz/corpus/restore`, a selector byte and then a snapshot) are snapshots of
//! every provider in the states a seed run reaches; a login in flight and the states of a
//! person's login, which no seed holds, are written here.

use std::collections::BTreeSet;

use oauth_lifecycle::dialect::{ConvirzaV3Extra, KeycloakExtra};
use oauth_lifecycle::{Snapshot, StateName};
use serde::{de::DeserializeOwned, Serialize};

const LOGGING_IN: &str = r#"{"format":2,"secrets":true,"next_id":2,"generation":0,"pace":["2026-09-01 00:00:00.0"],"state":{"state":"logging_in","flight":{"id":1,"purpose":"login","sent_at":"2026-09-01 00:00:00.0","deadline":"2026-09-01 00:00:30.0"},"failures":0,"rejections":0}}"#;

const AUTHORIZING_DEVICE: &str = r#"{"format":2,"secrets":true,"next_id":2,"generation":0,"pace":["2026-09-01 00:00:00.0"],"state":{"state":"authorizing_device","flight":{"id":1,"purpose":"login","sent_at":"2026-09-01 00:00:00.0","deadline":"2026-09-01 00:00:30.0"}}}"#;
const AWAITING_APPROVAL: &str = r#"{"format":2,"secrets":true,"next_id":2,"generation":0,"pace":["2026-09-01 00:00:00.0"],"state":{"state":"awaiting_approval","device_code":"dc-1","prompt":{"user_code":"ABCD-EFGH","verification_uri":"https://auth.example.com/device","verification_uri_complete":null,"expires_at":"2026-09-01 00:10:00.0"},"interval_seconds":5,"poll_at":"2026-09-01 00:00:05.0","poll":{"id":1,"purpose":"login","sent_at":"2026-09-01 00:00:00.0","deadline":"2026-09-01 00:00:30.0"},"awaiting_poll":false,"failures":0}}"#;
const AWAITING_REDIRECT: &str = r#"{"format":2,"secrets":true,"next_id":1,"generation":0,"state":{"state":"awaiting_redirect","request":{"authorization_endpoint":"http://127.0.0.1/authorize","client_id":"c","redirect_uri":"http://127.0.0.1:49152/callback","issuer":"http://127.0.0.1","iss_required":true,"state":"vCtS-WCPNl3Ec5oBqNd-5Qy7IknwH4YtVMNqkTinznU","code_verifier":"XMtymQCv1n3kE7ohSPcehSxbwmmQP6bNdOMKsdhH7hU"},"expires_at":"2026-09-01 00:15:00.0"}}"#;
const EXCHANGING_CODE: &str = r#"{"format":2,"secrets":true,"next_id":2,"generation":0,"pace":["2026-09-01 00:00:00.0"],"state":{"state":"exchanging_code","flight":{"id":1,"purpose":"login","sent_at":"2026-09-01 00:00:00.0","deadline":"2026-09-01 00:00:30.0"}}}"#;

/// The state of `text` if it reads as a snapshot with extra fields `E` and writes out
/// unchanged.
fn same_again<E: Serialize + DeserializeOwned>(text: &str) -> Option<StateName> {
    let snapshot: Snapshot<E> = serde_json::from_str(text).ok()?;
    (serde_json::to_string(&snapshot).ok()? == text).then(|| snapshot.state())
}

#[test]
fn snapshots_of_earlier_builds_read_back_and_write_out_unchanged() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/restore");
    let mut texts: Vec<String> = [
        LOGGING_IN,
        AUTHORIZING_DEVICE,
        AWAITING_APPROVAL,
        AWAITING_REDIRECT,
        EXCHANGING_CODE,
    ]
    .map(str::to_owned)
    .to_vec();
    for entry in std::fs::read_dir(dir).expect("the restore seeds") {
        let bytes = std::fs::read(entry.expect("a seed").path()).expect("a readable seed");
        let text =
            String::from_utf8(bytes[1..].to_vec()).expect("a seed is UTF-8 after its selector");
        texts.push(text.trim_end().to_owned());
    }
    assert!(texts.len() > 20, "the seeds are missing");
    let mut states = BTreeSet::new();
    for text in &texts {
        let state = same_again::<()>(text)
            .or_else(|| same_again::<KeycloakExtra>(text))
            .or_else(|| same_again::<ConvirzaV3Extra>(text))
            .unwrap_or_else(|| panic!("a snapshot changed on the way through: {text}"));
        states.insert(state);
    }
    let every: BTreeSet<StateName> = StateName::ALL.iter().copied().collect();
    assert_eq!(states, every, "a state no snapshot here holds");
}
