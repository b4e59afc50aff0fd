//! The file store: atomic, private, locked, compare-and-swap across handles (as across
//! processes), and sealed at rest when given a key.

use std::path::PathBuf;
use std::sync::{Arc, Barrier};

use oauth_lifecycle::Generation;
use oauth_lifecycle_adapter::{
    FileStore, FileStoreOptions, Saved, SessionStore, StoreError, StoreKey,
};

const SNAPSHOT: &[u8] =
    br#"{"format":2,"state":"active","access_token":"secret-access-token-4711"}"#;

fn generation(n: u64) -> Generation {
    Generation::new(n)
}

/// A fresh directory under the target's temporary directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "oauth-lifecycle-file-store-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn file(&self) -> PathBuf {
        self.0.join("session.json")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn key() -> StoreKey {
    StoreKey::from_bytes([7; 32])
}

#[test]
fn a_sealed_file_holds_no_secret_and_opens_only_with_its_key() {
    let scratch = Scratch::new("sealed");
    let store = FileStore::new(scratch.file(), FileStoreOptions::encrypted(key()));
    assert_eq!(store.load().unwrap(), None);
    assert_eq!(
        store.save(None, generation(3), SNAPSHOT).unwrap(),
        Saved::Stored { revision: 1 }
    );
    let on_disk = std::fs::read_to_string(scratch.file()).unwrap();
    assert!(!on_disk.contains("secret-access-token"), "{on_disk}");
    assert!(on_disk.contains("xchacha20poly1305"));

    let loaded = store.load().unwrap().unwrap();
    assert_eq!(&loaded.snapshot[..], SNAPSHOT);
    assert_eq!((loaded.revision, loaded.generation), (1, generation(3)));

    let other_key = FileStore::new(
        scratch.file(),
        FileStoreOptions::encrypted(StoreKey::from_bytes([8; 32])),
    );
    assert!(matches!(
        other_key.load(),
        Err(StoreError::Unreadable { .. })
    ));
    let no_key = FileStore::new(scratch.file(), FileStoreOptions::plaintext());
    assert!(matches!(no_key.load(), Err(StoreError::Unreadable { .. })));
}

#[test]
fn altering_a_sealed_files_revision_or_ciphertext_is_detected() {
    let scratch = Scratch::new("altered");
    let store = FileStore::new(scratch.file(), FileStoreOptions::encrypted(key()));
    store.save(None, generation(1), SNAPSHOT).unwrap();
    let original = std::fs::read_to_string(scratch.file()).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&original).unwrap();
    json["generation"] = 9.into();
    std::fs::write(scratch.file(), json.to_string()).unwrap();
    assert!(matches!(store.load(), Err(StoreError::Unreadable { .. })));
    for garbage in ["", "{", "null", "{\"format\":1}", "[1,2,3]"] {
        std::fs::write(scratch.file(), garbage).unwrap();
        assert!(
            matches!(store.load(), Err(StoreError::Unreadable { .. })),
            "{garbage:?}"
        );
    }
}

#[test]
fn a_plaintext_file_is_readable_by_its_owner_only() {
    let scratch = Scratch::new("plain");
    let store = FileStore::new(scratch.file(), FileStoreOptions::plaintext());
    store.save(None, generation(1), SNAPSHOT).unwrap();
    let on_disk = std::fs::read_to_string(scratch.file()).unwrap();
    assert!(
        on_disk.contains("secret-access-token-4711"),
        "a deliberate choice"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(scratch.file())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Only the session and its lock are left: no temporary file.
    let mut names: Vec<_> = std::fs::read_dir(&scratch.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["session.json", "session.json.lock"]);
}

#[test]
fn a_save_over_a_revision_another_handle_wrote_is_refused_with_it() {
    let scratch = Scratch::new("cas");
    let first = FileStore::new(scratch.file(), FileStoreOptions::encrypted(key()));
    let second = FileStore::new(scratch.file(), FileStoreOptions::encrypted(key()));
    first.save(None, generation(1), b"{\"v\":1}").unwrap();
    // Both saw revision 1; the first moves on, the second is refused with its state.
    assert_eq!(
        first.save(Some(1), generation(1), b"{\"v\":2}").unwrap(),
        Saved::Stored { revision: 2 }
    );
    let Saved::Newer(held) = second.save(Some(1), generation(1), b"{\"v\":3}").unwrap() else {
        panic!("a save over an unseen revision was accepted");
    };
    assert_eq!(held.revision, 2);
    assert_eq!(&held.snapshot[..], b"{\"v\":2}");
}

/// Eight threads, each with its own handle, race to move the same revision on: exactly
/// one wins each round, whatever the interleaving.
#[test]
fn racing_saves_have_exactly_one_winner_per_revision() {
    let scratch = Scratch::new("race");
    let path = scratch.file();
    FileStore::new(&path, FileStoreOptions::plaintext())
        .save(None, generation(1), b"{}")
        .unwrap();
    for round in 1..=10_u64 {
        let start = Arc::new(Barrier::new(8));
        let wins: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let start = Arc::clone(&start);
                    let path = path.clone();
                    scope.spawn(move || {
                        let store = FileStore::new(path, FileStoreOptions::plaintext());
                        start.wait();
                        matches!(
                            store.save(Some(round), generation(1), b"{}").unwrap(),
                            Saved::Stored { .. }
                        )
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| usize::from(h.join().unwrap()))
                .sum()
        });
        assert_eq!(wins, 1, "round {round}");
    }
}
