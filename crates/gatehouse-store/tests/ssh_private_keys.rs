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

/// An SSH user-authentication request (RFC 4252 section 7) for `key` (a `.pub` line).
fn auth_request(key: &gatehouse_core::ssh::SshPrivateKeyRecord, alg: &str) -> Vec<u8> {
    use gatehouse_core::ssh::SshPublicKey;
    fn string(out: &mut Vec<u8>, b: &[u8]) {
        out.extend_from_slice(&u32::try_from(b.len()).expect("len").to_be_bytes());
        out.extend_from_slice(b);
    }
    let blob = SshPublicKey::parse(&key.public_key)
        .expect("public half")
        .blob()
        .to_vec();
    let mut out = Vec::new();
    string(&mut out, &[7u8; 32]);
    out.push(50);
    string(&mut out, b"deploy");
    string(&mut out, b"ssh-connection");
    string(&mut out, b"publickey");
    out.push(1);
    string(&mut out, alg.as_bytes());
    string(&mut out, &blob);
    out
}

fn sign_req<'a>(
    id: &'a SshPrivateKeyId,
    data: &'a [u8],
    account: Option<&'a str>,
) -> gatehouse_core::service::SignRequest<'a> {
    gatehouse_core::service::SignRequest {
        account,
        id,
        data,
        flags: 0,
        session_bind: None,
    }
}

conformance!(
    a_key_signs_for_its_owner_until_it_is_deleted,
    |store: Arc<dyn Store>| async move {
        let (core, _) = core_and_keyring(store.clone(), fast_settings());
        let alice = member_actor(&core, "alice").await;
        let bob = member_actor(&core, "bob").await;
        let key = upload(&core, &alice, "deploy", ED25519, None)
            .await
            .expect("add");
        let data = auth_request(&key, "ssh-ed25519");
        let signed = core
            .sign_with_ssh_private_key(&alice, sign_req(&key.id, &data, None))
            .await
            .expect("sign");
        assert_eq!(signed.algorithm, "ssh-ed25519");
        assert!(signed.key.last_used_at.is_some());
        let stored = core
            .get_ssh_private_key(&alice, &key.id)
            .await
            .expect("get");
        assert_eq!(stored.last_used_at, signed.key.last_used_at);

        let err = core
            .sign_with_ssh_private_key(&bob, sign_req(&key.id, &data, None))
            .await
            .expect_err("another account's key");
        assert!(matches!(err, Error::NotFound), "{err:?}");
        let err = core
            .sign_with_ssh_private_key(&bob, sign_req(&key.id, &data, Some("alice")))
            .await
            .expect_err("naming the owner needs use_all");
        assert!(matches!(err, Error::InsufficientPermissions(_)), "{err:?}");
        let err = core
            .sign_with_ssh_private_key(&alice, sign_req(&key.id, b"a git commit", None))
            .await
            .expect_err("not an authentication request");
        assert!(
            matches!(err, Error::Invalid { field: "data", .. }),
            "{err:?}"
        );

        core.delete_ssh_private_key(&alice, &key.id)
            .await
            .expect("delete");
        let err = core
            .sign_with_ssh_private_key(&alice, sign_req(&key.id, &data, None))
            .await
            .expect_err("deleted");
        assert!(matches!(err, Error::NotFound), "{err:?}");
        assert!(
            !store
                .touch_ssh_private_key(&alice.user.id, &key.id, t0())
                .await
                .expect("touch"),
            "a deleted key is not touched"
        );
    }
);

conformance!(
    host_key_pins_are_per_account_and_never_replaced,
    |store: Arc<dyn Store>| async move {
        let (core, _) = core_and_keyring(store.clone(), fast_settings());
        let alice = member_actor(&core, "alice").await;
        let bob = member_actor(&core, "bob").await;
        let pin = gatehouse_core::ssh::PinnedHostKey {
            host: "cluster.example.org".into(),
            port: 2222,
            key_type: "ssh-ed25519".into(),
            fingerprint: "SHA256:abc".into(),
            public_key: "ssh-ed25519 AAAA".into(),
            pinned_at: t0(),
        };
        store.pin_host_key(&alice.user.id, &pin).await.expect("pin");
        let again = gatehouse_core::ssh::PinnedHostKey {
            fingerprint: "SHA256:other".into(),
            ..pin.clone()
        };
        let err = store
            .pin_host_key(&alice.user.id, &again)
            .await
            .expect_err("a second pin");
        assert!(matches!(err, Error::Conflict(_)), "{err:?}");
        assert_eq!(
            store
                .pinned_host_key(&alice.user.id, "cluster.example.org", 2222)
                .await
                .expect("read"),
            Some(pin.clone())
        );
        assert!(
            store
                .pinned_host_key(&alice.user.id, "cluster.example.org", 22)
                .await
                .expect("read")
                .is_none(),
            "per port"
        );
        assert!(
            store
                .pinned_host_key(&bob.user.id, "cluster.example.org", 2222)
                .await
                .expect("read")
                .is_none(),
            "per account"
        );
        assert!(
            !store
                .forget_host_key(&bob.user.id, "cluster.example.org", 2222)
                .await
                .expect("forget")
        );
        let err = core
            .forget_ssh_host_key(&bob, "cluster.example.org", 2222)
            .await
            .expect_err("bob has no pin");
        assert!(matches!(err, Error::NotFound), "{err:?}");
        core.forget_ssh_host_key(&alice, "Cluster.Example.ORG", 2222)
            .await
            .expect("forget");
        assert!(
            store
                .pinned_host_key(&alice.user.id, "cluster.example.org", 2222)
                .await
                .expect("read")
                .is_none()
        );
    }
);

conformance!(
    rotation_rewraps_every_sealed_value_under_the_new_master_key,
    |store: Arc<dyn Store>| async move {
        use gatehouse_core::store::SealedKind;
        let (core, old) = core_and_keyring(store.clone(), fast_settings());
        core.init_tokens().await.expect("signing key");
        let alice = member_actor(&core, "alice").await;
        let key = upload(&core, &alice, "deploy", ECDSA, None)
            .await
            .expect("add");
        let rotated = Keyring::parse(&old.to_file_text())
            .expect("parse")
            .with_active(MasterKey::generate());
        let new_id = rotated.active_id().to_owned();

        let report = core.rewrap_sealed_values(&rotated).await.expect("rewrap");
        assert_eq!(report.rewrapped.get("SSH private keys"), Some(&1));
        assert!(
            report
                .rewrapped
                .get("token signing keys")
                .is_some_and(|n| *n >= 1)
        );
        assert_eq!(report.skipped, 0);
        let counts = core.sealed_values_by_master_key().await.expect("counts");
        assert_eq!(
            counts.keys().collect::<Vec<_>>(),
            vec![&new_id],
            "{counts:?}"
        );

        // The old key can go: the new one alone opens the re-wrapped value.
        let only_new = Keyring::parse(&rotated.to_file_text())
            .expect("parse")
            .without(old.active_id())
            .expect("retire");
        let sealed = store
            .sealed_ssh_private_key(&alice.user.id, &key.id)
            .await
            .expect("read")
            .expect("there");
        let opened = only_new
            .open(&sealed, &seal_context(&alice.user.id, &key.id))
            .expect("opens under the new key");
        assert!(String::from_utf8_lossy(&opened).contains("OPENSSH PRIVATE KEY"));
        assert!(
            old.open(&sealed, &seal_context(&alice.user.id, &key.id))
                .is_err()
        );

        let again = core.rewrap_sealed_values(&rotated).await.expect("rewrap");
        assert!(again.rewrapped.values().all(|n| *n == 0), "{again:?}");
        assert!(again.current >= 2);

        // A value changed meanwhile is left alone (compare-and-set on the old text).
        assert!(
            !store
                .replace_sealed(SealedKind::SshPrivateKey, &key.id.0, "gh1.stale", "gh1.new")
                .await
                .expect("replace")
        );
        let values = store
            .sealed_values(SealedKind::SshPrivateKey, None, 10)
            .await
            .expect("values");
        assert_eq!(values.len(), 1);
        assert_eq!(values[0].owner.as_deref(), Some(alice.user.id.0.as_str()));
        assert_eq!(values[0].sealed, sealed);
    }
);
