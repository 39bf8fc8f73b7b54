//! Stored SSH private keys over a real store (SQLite and PostgreSQL): owner scoping,
//! unique names and keys, the cap, and the sealed column (no plaintext in it, and a
//! sealed value moved to another account's row does not open).

use std::sync::Arc;

use gatehouse_core::Error;
use gatehouse_core::clock::ManualClock;
use gatehouse_core::ids::SshPrivateKeyId;
use gatehouse_core::page::PageRequest;
use gatehouse_core::seal::{Keyring, MasterKey};
use gatehouse_core::secrecy::SecretString;
use gatehouse_core::service::NewSshPrivateKey;
use gatehouse_core::ssh::private_key::seal_context;
use gatehouse_core::store::Store;
use gatehouse_core::{Core, CoreSettings};

mod common;
use common::*;

const ED25519: &str = include_str!("../../gatehouse-core/src/ssh/private_key/testdata/ed25519");
const ED25519_PASS: &str =
    include_str!("../../gatehouse-core/src/ssh/private_key/testdata/ed25519_pass");
const ECDSA: &str = include_str!("../../gatehouse-core/src/ssh/private_key/testdata/ecdsa256");
const RSA_PEM: &str = include_str!("../../gatehouse-core/src/ssh/private_key/testdata/rsa2048_pem");
const PASS: &str = "correct horse fixture";

/// A core whose keyring the test also holds, to open sealed values itself.
fn core_and_keyring(store: Arc<dyn Store>, settings: CoreSettings) -> (Core, Arc<Keyring>) {
    let keyring = Arc::new(Keyring::single(MasterKey::generate()));
    let clock = Arc::new(ManualClock::new(t0()));
    let core = Core::new(store, clock, settings)
        .expect("core")
        .with_master_keys(keyring.clone());
    (core, keyring)
}

async fn upload(
    core: &Core,
    actor: &gatehouse_core::actor::Actor,
    name: &str,
    key: &str,
    pass: Option<&str>,
) -> gatehouse_core::Result<gatehouse_core::ssh::SshPrivateKeyRecord> {
    let key = SecretString::from(key.to_owned());
    let pass = pass.map(|p| SecretString::from(p.to_owned()));
    core.add_ssh_private_key(
        actor,
        NewSshPrivateKey {
            name,
            description: Some("deploys"),
            private_key: &key,
            passphrase: pass.as_ref(),
        },
    )
    .await
}

/// The base64 body lines of a key file (what must never be stored in the clear).
fn body_lines(pem: &str) -> Vec<&str> {
    pem.lines()
        .filter(|l| !l.starts_with("-----") && !l.contains(':') && l.len() > 16)
        .collect()
}

conformance!(private_keys_are_scoped_to_their_owner, |store: Arc<
    dyn Store,
>| async move {
    let (core, _) = core_and_keyring(store.clone(), fast_settings());
    let alice = member_actor(&core, "alice").await;
    let bob = member_actor(&core, "bob").await;
    let key = upload(&core, &alice, "deploy", ED25519, None)
        .await
        .expect("add");
    assert_eq!(key.description.as_deref(), Some("deploys"));
    assert!(key.last_used_at.is_none());
    assert!(key.fingerprint.starts_with("SHA256:"));

    let got = core
        .get_ssh_private_key(&alice, &key.id)
        .await
        .expect("own");
    assert_eq!(got, key);
    assert!(matches!(
        core.get_ssh_private_key(&bob, &key.id).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        core.delete_ssh_private_key(&bob, &key.id).await,
        Err(Error::NotFound)
    ));
    let page = PageRequest::first(50);
    assert!(
        core.list_ssh_private_keys(&bob, &page)
            .await
            .expect("list")
            .items
            .is_empty()
    );
    assert!(
        store
            .sealed_ssh_private_key(&bob.user.id, &key.id)
            .await
            .expect("read")
            .is_none()
    );
    assert_eq!(
        core.list_ssh_private_keys(&alice, &page)
            .await
            .expect("list")
            .items,
        vec![key.clone()]
    );

    core.delete_ssh_private_key(&alice, &key.id)
        .await
        .expect("delete");
    assert!(matches!(
        core.get_ssh_private_key(&alice, &key.id).await,
        Err(Error::NotFound)
    ));
    assert!(
        store
            .sealed_ssh_private_key(&alice.user.id, &key.id)
            .await
            .expect("read")
            .is_none()
    );
});

conformance!(names_and_keys_are_unique_per_account_only, |store: Arc<
    dyn Store,
>| async move {
    let (core, _) = core_and_keyring(store, fast_settings());
    let alice = member_actor(&core, "alice").await;
    let bob = member_actor(&core, "bob").await;
    upload(&core, &alice, "deploy", ED25519, None)
        .await
        .expect("first");
    let same_name = upload(&core, &alice, "deploy", ECDSA, None).await;
    assert!(
        matches!(&same_name, Err(Error::Conflict(m)) if m.contains("name")),
        "{same_name:?}"
    );
    let same_key = upload(&core, &alice, "again", ED25519, None).await;
    assert!(
        matches!(&same_key, Err(Error::Conflict(m)) if m.contains("already stored")),
        "{same_key:?}"
    );
    // Another account may use the same name, and even hold the same key.
    upload(&core, &bob, "deploy", ED25519, None)
        .await
        .expect("bob's");
});

conformance!(
    the_per_account_cap_is_enforced_and_invalid_input_stores_nothing,
    |store: Arc<dyn Store>| async move {
        let mut settings = fast_settings();
        settings.limits.ssh_private_keys = 2;
        let (core, _) = core_and_keyring(store.clone(), settings);
        let alice = member_actor(&core, "alice").await;
        let e = upload(&core, &alice, "enc", ED25519_PASS, None).await;
        assert!(
            matches!(
                e,
                Err(Error::Invalid {
                    field: "passphrase",
                    ..
                })
            ),
            "{e:?}"
        );
        let e = upload(&core, &alice, "bad\u{202E}name", ED25519, None).await;
        assert!(
            matches!(e, Err(Error::Invalid { field: "name", .. })),
            "{e:?}"
        );
        assert_eq!(
            store
                .count_ssh_private_keys(&alice.user.id)
                .await
                .expect("n"),
            0
        );
        upload(&core, &alice, "one", ED25519_PASS, Some(PASS))
            .await
            .expect("one");
        upload(&core, &alice, "two", RSA_PEM, None)
            .await
            .expect("two");
        let e = upload(&core, &alice, "three", ECDSA, None).await;
        assert!(
            matches!(
                e,
                Err(Error::Invalid {
                    field: "ssh_private_keys",
                    ..
                })
            ),
            "{e:?}"
        );
    }
);

conformance!(
    the_sealed_column_holds_no_plaintext_and_opens_only_on_its_own_row,
    |store: Arc<dyn Store>| async move {
        let (core, keyring) = core_and_keyring(store.clone(), fast_settings());
        let alice = member_actor(&core, "alice").await;
        let bob = member_actor(&core, "bob").await;
        let key = upload(&core, &alice, "deploy", ED25519_PASS, Some(PASS))
            .await
            .expect("add");
        let sealed = store
            .sealed_ssh_private_key(&alice.user.id, &key.id)
            .await
            .expect("read")
            .expect("present");
        assert!(sealed.starts_with("gh1."), "sealed form");
        for needle in body_lines(ED25519_PASS)
            .into_iter()
            .chain(["PRIVATE KEY", PASS, "OPENSSH"])
        {
            assert!(
                !sealed.contains(needle),
                "plaintext {needle:?} in the sealed column"
            );
        }

        let opened = keyring
            .open(&sealed, &seal_context(&alice.user.id, &key.id))
            .expect("opens on its own row");
        let text = String::from_utf8(opened.to_vec()).expect("utf-8");
        assert!(text.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
        let reread = gatehouse_core::ssh::SshPrivateKey::parse(&text, None).expect("unencrypted");
        assert_eq!(reread.fingerprint(), key.fingerprint);

        // The same sealed value written onto a row of Bob's does not open there.
        let mut copy = key.clone();
        copy.id = SshPrivateKeyId::generate();
        copy.user_id = bob.user.id.clone();
        store
            .insert_ssh_private_key(&copy, &sealed)
            .await
            .expect("copied row");
        let moved = store
            .sealed_ssh_private_key(&bob.user.id, &copy.id)
            .await
            .expect("read")
            .expect("present");
        assert_eq!(moved, sealed);
        assert!(
            keyring
                .open(&moved, &seal_context(&bob.user.id, &copy.id))
                .is_err()
        );
        assert!(
            keyring
                .open(&moved, &seal_context(&bob.user.id, &key.id))
                .is_err()
        );
        assert!(
            keyring
                .open(&moved, &seal_context(&alice.user.id, &copy.id))
                .is_err()
        );
    }
);

conformance!(
    listing_pages_through_every_key_oldest_first,
    |store: Arc<dyn Store>| async move {
        let (core, _) = core_and_keyring(store, fast_settings());
        let alice = member_actor(&core, "alice").await;
        let mut want = Vec::new();
        for (name, key) in [("a", ED25519), ("b", ECDSA), ("c", RSA_PEM)] {
            want.push(
                upload(&core, &alice, name, key, None)
                    .await
                    .expect("add")
                    .id,
            );
        }
        let first = core
            .list_ssh_private_keys(&alice, &PageRequest::first(2))
            .await
            .expect("page 1");
        assert_eq!(first.items.len(), 2);
        let cursor = first.next.clone().expect("more");
        let second = core
            .list_ssh_private_keys(
                &alice,
                &PageRequest::parse(Some("2"), Some(&cursor)).expect("cursor"),
            )
            .await
            .expect("page 2");
        let got: Vec<_> = first
            .items
            .iter()
            .chain(&second.items)
            .map(|k| k.id.clone())
            .collect();
        let mut sorted = want.clone();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, sorted, "same created_at: ordered by id");
        assert!(second.next.is_none());
    }
);
