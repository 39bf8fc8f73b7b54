//! The storage conformance suite: every test runs once on SQLite and once on
//! PostgreSQL (a fresh database each). Use-case tests drive `Core` over the store.

use std::sync::Arc;

use gatehouse_core::Error;
use gatehouse_core::account::{DisplayName, Email, NewAccountRecord, Username};
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::clock::Clock;
use gatehouse_core::ids::{AccountId, SessionId};
use gatehouse_core::secret::TokenHash;
use gatehouse_core::service::{BootstrapOutcome, LoginAttempt, NewAccount};
use gatehouse_core::session::SessionRecord;
use gatehouse_core::store::{Invalidation, MemberChange, Store};

mod common;
use common::*;
use time::{Duration, OffsetDateTime};

/// The invalidations published since `t`, as (time, change).
async fn published(
    store: &Arc<dyn Store>,
    t: OffsetDateTime,
) -> Vec<(OffsetDateTime, Invalidation)> {
    store
        .invalidations_since(t)
        .await
        .expect("poll")
        .into_iter()
        .map(|p| (p.at, p.change))
        .collect()
}

async fn add_user(store: &Arc<dyn Store>, name: &str) -> gatehouse_core::account::Account {
    let org = store.ensure_org("default", t0()).await.expect("org");
    store
        .insert_account(&NewAccountRecord {
            id: AccountId::generate(),
            username: Username::parse(name).expect("name"),
            email: Email::parse(&format!("{name}@example.org")).expect("email"),
            display_name: DisplayName::parse(name).expect("display"),
            org_id: org.id,
            password_hash: Some("$argon2id$placeholder".into()),
            role: gatehouse_core::org::Role::Member,
            operator: false,
            created_at: t0(),
        })
        .await
        .expect("insert user")
}

fn session_for(user: &AccountId, secret: &str, last_seen: OffsetDateTime) -> SessionRecord {
    SessionRecord {
        id: SessionId::generate(),
        token_hash: TokenHash::of(secret),
        user_id: user.clone(),
        created_at: t0(),
        last_seen_at: last_seen,
        expires_at: t0() + Duration::hours(12),
        ip: Some("192.0.2.1".into()),
        user_agent: Some("test".into()),
        amr: gatehouse_core::mfa::Amr::PASSWORD,
        reauthenticated_at: t0(),
    }
}

conformance!(users_round_trip_and_usernames_are_unique, |store: Arc<
    dyn Store,
>| async move {
    let alice = add_user(&store, "alice").await;
    let found = store
        .account_by_username(&Username::parse("ALICE").expect("name"))
        .await
        .expect("query")
        .expect("found");
    assert_eq!(found.user, alice);
    assert_eq!(
        found.password_hash.as_deref(),
        Some("$argon2id$placeholder")
    );
    let by_id = store
        .account_by_id(&alice.id)
        .await
        .expect("q")
        .expect("found");
    assert_eq!(by_id.user.username, "alice");

    let org = store.ensure_org("default", t0()).await.expect("org");
    assert_eq!(org.id, alice.org_id, "ensure_org is idempotent");
    let dup = store
        .insert_account(&NewAccountRecord {
            id: AccountId::generate(),
            username: Username::parse("Alice").expect("name"),
            email: Email::parse("other@example.org").expect("email"),
            display_name: DisplayName::parse("x").expect("d"),
            org_id: org.id.clone(),
            password_hash: Some("h".into()),
            role: gatehouse_core::org::Role::Member,
            operator: false,
            created_at: t0(),
        })
        .await;
    match dup {
        Err(Error::Conflict(m)) => assert!(m.contains("username"), "{m}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    add_user(&store, "bob").await;
    assert_eq!(store.count_accounts().await.expect("count"), 2);
    assert_eq!(store.org_member_count(&org.id).await.expect("count"), 2);
    let names: Vec<_> = store
        .list_accounts()
        .await
        .expect("list")
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    assert!(
        store
            .account_by_id(&AccountId::generate())
            .await
            .expect("q")
            .is_none()
    );
});

conformance!(
    password_hashes_and_disabled_flags_update_and_unknown_ids_are_not_found,
    |store: Arc<dyn Store>| async move {
        let u = add_user(&store, "carol").await;
        store
            .set_password_hash(&u.id, "new-hash")
            .await
            .expect("set");
        let t = OffsetDateTime::from_unix_timestamp(1_900_000_000).expect("t");
        store
            .change_member(None, &u.id, &MemberChange::Disabled(true), t)
            .await
            .expect("disable");
        let r = store.account_by_id(&u.id).await.expect("q").expect("found");
        assert_eq!(r.password_hash.as_deref(), Some("new-hash"));
        assert!(r.user.disabled);
        assert!(matches!(
            store.set_password_hash(&AccountId::generate(), "x").await,
            Err(Error::NotFound)
        ));
        assert!(matches!(
            store
                .change_member(
                    None,
                    &AccountId::generate(),
                    &MemberChange::Disabled(true),
                    t
                )
                .await,
            Err(Error::NotFound)
        ));
        assert_eq!(
            published(&store, t).await,
            vec![(t, Invalidation::Account(u.id.clone()))],
            "the change is published with it; an unknown account publishes nothing"
        );
    }
);

conformance!(
    invalidations_are_read_from_a_time_on_and_swept,
    |store: Arc<dyn Store>| async move {
        let u = add_user(&store, "ines").await;
        let t = OffsetDateTime::from_unix_timestamp(1_900_000_000).expect("t");
        for (i, disabled) in [true, false, true].into_iter().enumerate() {
            store
                .change_member(
                    None,
                    &u.id,
                    &MemberChange::Disabled(disabled),
                    t + Duration::seconds(i as i64 * 10),
                )
                .await
                .expect("set");
        }
        assert_eq!(store.invalidations_since(t).await.expect("q").len(), 3);
        assert_eq!(
            store
                .invalidations_since(t + Duration::seconds(10))
                .await
                .expect("q")
                .len(),
            2,
            "since is inclusive"
        );
        assert!(
            store
                .invalidations_since(t + Duration::seconds(21))
                .await
                .expect("q")
                .is_empty()
        );
        assert_eq!(
            store
                .delete_invalidations_before(t + Duration::seconds(10))
                .await
                .expect("sweep"),
            1
        );
        assert_eq!(store.invalidations_since(t).await.expect("q").len(), 2);

        // Two changes to one account in one second are two rows, told apart by id.
        let later = t + Duration::seconds(30);
        for disabled in [false, true] {
            store
                .change_member(None, &u.id, &MemberChange::Disabled(disabled), later)
                .await
                .expect("set");
        }
        let rows = store.invalidations_since(later).await.expect("q");
        assert_eq!(rows.len(), 2);
        assert_ne!(rows[0].id, rows[1].id);
        assert_eq!(rows[0].change, rows[1].change);
    }
);

conformance!(
    sessions_are_found_by_hash_touched_forward_only_and_deleted,
    |store: Arc<dyn Store>| async move {
        let u = add_user(&store, "dave").await;
        let s = session_for(&u.id, "secret-one", t0());
        store.insert_session(&s).await.expect("insert");
        let got = store
            .session_by_hash(&TokenHash::of("secret-one"))
            .await
            .expect("q")
            .expect("found");
        assert_eq!(got.id, s.id);
        assert_eq!(got.expires_at, s.expires_at);
        assert_eq!(got.ip.as_deref(), Some("192.0.2.1"));
        assert!(
            store
                .session_by_hash(&TokenHash::of("other"))
                .await
                .expect("q")
                .is_none()
        );

        let later = t0() + Duration::minutes(5);
        store
            .touch_sessions(&[(s.token_hash, later)])
            .await
            .expect("touch");
        store
            .touch_sessions(&[(s.token_hash, t0())])
            .await
            .expect("touch back");
        let got = store
            .session_by_hash(&s.token_hash)
            .await
            .expect("q")
            .expect("found");
        assert_eq!(got.last_seen_at, later, "last_seen never moves backwards");

        let t = OffsetDateTime::from_unix_timestamp(1_900_000_000).expect("t");
        assert!(
            store
                .delete_session(&s.token_hash, t)
                .await
                .expect("delete")
        );
        assert!(
            !store
                .delete_session(&s.token_hash, t)
                .await
                .expect("delete again")
        );
        assert_eq!(
            published(&store, t).await,
            vec![(t, Invalidation::Session(s.token_hash))],
            "published once, by the delete that found it"
        );
        assert!(
            store
                .session_by_hash(&s.token_hash)
                .await
                .expect("q")
                .is_none()
        );

        store
            .insert_session(&session_for(&u.id, "a", t0()))
            .await
            .expect("insert");
        store
            .insert_session(&session_for(&u.id, "b", t0()))
            .await
            .expect("insert");
        assert_eq!(
            store
                .delete_user_sessions(&u.id, t0())
                .await
                .expect("delete all"),
            2
        );
    }
);

conformance!(expired_and_idle_sessions_are_swept, |store: Arc<
    dyn Store,
>| async move {
    let u = add_user(&store, "erin").await;
    let idle = session_for(&u.id, "idle", t0());
    let active = session_for(&u.id, "active", t0() + Duration::hours(1));
    let mut expired = session_for(&u.id, "expired", t0() + Duration::hours(1));
    expired.expires_at = t0() + Duration::minutes(30);
    for s in [&idle, &active, &expired] {
        store.insert_session(s).await.expect("insert");
    }
    let now = t0() + Duration::minutes(65);
    let removed = store
        .delete_expired_sessions(now, now - Duration::minutes(30))
        .await
        .expect("sweep");
    assert_eq!(removed, 2);
    assert!(
        store
            .session_by_hash(&active.token_hash)
            .await
            .expect("q")
            .is_some()
    );
});

conformance!(
    failure_counters_count_every_concurrent_failure_and_clear,
    |store: Arc<dyn Store>| async move {
        assert!(store.failure_state("login:x").await.expect("q").is_none());
        let mut tasks = Vec::new();
        for i in 0..20 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                s.record_failure("login:x", t0() + Duration::seconds(i))
                    .await
            }));
        }
        for t in tasks {
            t.await.expect("join").expect("record");
        }
        let state = store
            .failure_state("login:x")
            .await
            .expect("q")
            .expect("some");
        assert_eq!(state.failures, 20);
        store.clear_failures("login:x").await.expect("clear");
        assert!(store.failure_state("login:x").await.expect("q").is_none());
    }
);

conformance!(
    audit_events_are_listed_newest_first_and_filtered_by_user,
    |store: Arc<dyn Store>| async move {
        let u = add_user(&store, "frank").await;
        for (i, action) in ["login.failed", "login.succeeded", "logout"]
            .iter()
            .enumerate()
        {
            store
                .insert_audit(
                    &AuditEvent::new(t0() + Duration::seconds(i as i64), action)
                        .user(&u.id)
                        .factor("password")
                        .ip(Some([192, 0, 2, 7].into())),
                )
                .await
                .expect("audit");
        }
        store
            .insert_audit(&AuditEvent::new(t0(), "login.failed").username("nobody"))
            .await
            .expect("audit");
        let mine = store.list_audit(Some(&u.id), 10).await.expect("list");
        let actions: Vec<_> = mine.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["logout", "login.succeeded", "login.failed"]);
        assert_eq!(mine[0].ip.as_deref(), Some("192.0.2.7"));
        assert_eq!(store.list_audit(None, 10).await.expect("list").len(), 4);
        assert_eq!(store.list_audit(None, 2).await.expect("list").len(), 2);
    }
);

// ---- use cases over a real store -------------------------------------------------

conformance!(
    bootstrap_creates_admin_once_with_a_random_password,
    |store: Arc<dyn Store>| async move {
        let (core, _) = core_with(store.clone());
        let BootstrapOutcome::CreatedWithPassword(pw) =
            core.bootstrap(None).await.expect("bootstrap")
        else {
            panic!("expected a generated password");
        };
        assert!(matches!(
            core.bootstrap(None).await.expect("again"),
            BootstrapOutcome::AlreadyInitialised
        ));
        let pw = gatehouse_core::secrecy::ExposeSecret::expose_secret(&pw).to_owned();
        core.login(attempt("admin", &pw))
            .await
            .expect("admin can sign in");
    }
);

conformance!(
    sign_in_opens_a_session_that_authenticates_until_logout,
    |store: Arc<dyn Store>| async move {
        let (core, _) = core_with(store.clone());
        core.create_account(NewAccount {
            username: "gina",
            email: "gina@example.org",
            display_name: None,
            password: PW,
            role: gatehouse_core::org::Role::Member,
            org: None,
        })
        .await
        .expect("create");
        let out = core
            .login(attempt("Gina", PW))
            .await
            .expect("login")
            .into_session()
            .expect("signed in");
        let p = core
            .authenticate_session(out.token.expose())
            .await
            .expect("auth");
        assert_eq!(p.user.username, "gina");
        // The store holds the hash, never the cookie value.
        assert!(
            store
                .session_by_hash(&TokenHash::of(out.token.expose()))
                .await
                .expect("q")
                .is_some()
        );
        core.logout(out.token.expose()).await.expect("logout");
        assert!(matches!(
            core.authenticate_session(out.token.expose()).await,
            Err(Error::Unauthenticated)
        ));
    }
);

conformance!(
    a_sign_out_on_one_node_ends_the_session_on_the_others_at_their_poll,
    |store: Arc<dyn Store>| async move {
        let (a, _) = core_with(store.clone());
        let (b, _) = core_with(store.clone());
        b.refresh_invalidations().await.expect("first poll");
        member_actor(&a, "hana").await;
        let out = a
            .login(attempt("hana", PW))
            .await
            .expect("login")
            .into_session()
            .expect("signed in");
        let cookie = out.token.expose();
        b.authenticate_session(cookie).await.expect("b caches it");
        a.logout(cookie).await.expect("logout on a");
        b.authenticate_session(cookie)
            .await
            .expect("cached on b until it polls");
        b.refresh_invalidations().await.expect("poll");
        assert!(matches!(
            b.authenticate_session(cookie).await,
            Err(Error::Unauthenticated)
        ));
    }
);

conformance!(
    unknown_users_and_wrong_passwords_get_the_same_error,
    |store: Arc<dyn Store>| async move {
        let (core, _) = core_with(store);
        core.create_account(NewAccount {
            username: "hank",
            email: "h@example.org",
            display_name: None,
            password: PW,
            role: gatehouse_core::org::Role::Member,
            org: None,
        })
        .await
        .expect("create");
        assert!(matches!(
            core.login(attempt("hank", "wrong password!!")).await,
            Err(Error::InvalidCredentials)
        ));
        assert!(matches!(
            core.login(attempt("nobody", PW)).await,
            Err(Error::InvalidCredentials)
        ));
        assert!(matches!(
            core.login(attempt("bad;name", PW)).await,
            Err(Error::InvalidCredentials)
        ));
    }
);

conformance!(
    repeated_failures_back_off_and_success_resets_the_counter,
    |store: Arc<dyn Store>| async move {
        let (core, clock) = core_with(store.clone());
        core.create_account(NewAccount {
            username: "ivy",
            email: "i@example.org",
            display_name: None,
            password: PW,
            role: gatehouse_core::org::Role::Member,
            org: None,
        })
        .await
        .expect("create");
        for _ in 0..5 {
            assert!(matches!(
                core.login(attempt("ivy", "not the password")).await,
                Err(Error::InvalidCredentials)
            ));
        }
        // Even the right password waits during the backoff.
        match core.login(attempt("ivy", PW)).await {
            Err(Error::RateLimited { retry_after, .. }) => assert_eq!(retry_after, 30),
            other => panic!("expected backoff, got {other:?}"),
        }
        clock.advance(Duration::seconds(31));
        core.login(attempt("ivy", PW))
            .await
            .expect("login after backoff");
        assert!(store.failure_state("login:ivy").await.expect("q").is_none());
    }
);

conformance!(
    a_hundred_failures_lock_the_account_until_an_operator_resets_it,
    |store: Arc<dyn Store>| async move {
        let (core, clock) = core_with(store.clone());
        core.create_account(NewAccount {
            username: "jack",
            email: "j@example.org",
            display_name: None,
            password: PW,
            role: gatehouse_core::org::Role::Member,
            org: None,
        })
        .await
        .expect("create");
        for i in 0..100 {
            store
                .record_failure(
                    "login:jack",
                    clock.now() - Duration::days(1) + Duration::seconds(i),
                )
                .await
                .expect("rec");
        }
        clock.advance(Duration::days(30));
        assert!(matches!(
            core.login(attempt("jack", PW)).await,
            Err(Error::RateLimited { .. })
        ));
        core.set_password("jack", "a brand new passphrase")
            .await
            .expect("reset");
        core.login(attempt("jack", "a brand new passphrase"))
            .await
            .expect("login after reset");
    }
);

conformance!(
    sessions_end_at_the_idle_timeout_and_the_absolute_lifetime,
    |store: Arc<dyn Store>| async move {
        let (core, clock) = core_with(store);
        core.create_account(NewAccount {
            username: "kim",
            email: "k@example.org",
            display_name: None,
            password: PW,
            role: gatehouse_core::org::Role::Member,
            org: None,
        })
        .await
        .expect("create");
        let a = core
            .login(attempt("kim", PW))
            .await
            .expect("login")
            .into_session()
            .expect("signed in");
        clock.advance(Duration::minutes(31));
        assert!(
            matches!(
                core.authenticate_session(a.token.expose()).await,
                Err(Error::Unauthenticated)
            ),
            "idle"
        );

        let b = core
            .login(attempt("kim", PW))
            .await
            .expect("login")
            .into_session()
            .expect("signed in");
        for _ in 0..24 {
            clock.advance(Duration::minutes(29));
            core.authenticate_session(b.token.expose())
                .await
                .expect("active session lives");
            core.flush().await.expect("flush");
        }
        clock.advance(Duration::minutes(29));
        assert!(
            matches!(
                core.authenticate_session(b.token.expose()).await,
                Err(Error::Unauthenticated)
            ),
            "absolute"
        );
    }
);

conformance!(
    disabling_a_user_ends_their_sessions_and_blocks_sign_in,
    |store: Arc<dyn Store>| async move {
        let (core, _) = core_with(store);
        core.create_account(NewAccount {
            username: "lee",
            email: "l@example.org",
            display_name: None,
            password: PW,
            role: gatehouse_core::org::Role::Member,
            org: None,
        })
        .await
        .expect("create");
        let s = core
            .login(attempt("lee", PW))
            .await
            .expect("login")
            .into_session()
            .expect("signed in");
        core.set_account_disabled("lee", true)
            .await
            .expect("disable");
        assert!(matches!(
            core.authenticate_session(s.token.expose()).await,
            Err(Error::Unauthenticated)
        ));
        assert!(matches!(
            core.login(attempt("lee", PW)).await,
            Err(Error::InvalidCredentials)
        ));
        let audit = core.recent_audit(None, 50).await.expect("audit");
        assert!(audit.iter().any(|e| e.action == "user.disabled"));
        assert!(
            audit
                .iter()
                .any(|e| e.action == "login.succeeded" && e.ip.as_deref() == Some("198.51.100.1"))
        );
    }
);

conformance!(
    a_new_sign_in_replaces_the_session_the_browser_had,
    |store: Arc<dyn Store>| async move {
        let (core, _) = core_with(store);
        core.create_account(NewAccount {
            username: "mia",
            email: "m@example.org",
            display_name: None,
            password: PW,
            role: gatehouse_core::org::Role::Member,
            org: None,
        })
        .await
        .expect("create");
        let first = core
            .login(attempt("mia", PW))
            .await
            .expect("login")
            .into_session()
            .expect("signed in");
        let second = core
            .login(LoginAttempt {
                previous_session: Some(first.token.expose()),
                ..attempt("mia", PW)
            })
            .await
            .expect("login again")
            .into_session()
            .expect("signed in");
        assert_ne!(first.token.expose(), second.token.expose());
        assert!(
            core.authenticate_session(first.token.expose())
                .await
                .is_err()
        );
        assert!(
            core.authenticate_session(second.token.expose())
                .await
                .is_ok()
        );
    }
);

conformance!(
    weak_new_passwords_are_refused_by_create_and_set_password,
    |store: Arc<dyn Store>| async move {
        let (core, _) = core_with(store);
        for bad in ["short", "1qaz2wsx3edc", "nina-is-my-name"] {
            let r = core
                .create_account(NewAccount {
                    username: "nina",
                    email: "n@example.org",
                    display_name: None,
                    password: bad,
                    role: gatehouse_core::org::Role::Member,
                    org: None,
                })
                .await;
            assert!(
                matches!(
                    r,
                    Err(Error::Invalid {
                        field: "password",
                        ..
                    })
                ),
                "{bad}: {r:?}"
            );
        }
    }
);

// ---- API keys and policy ---------------------------------------------------------

use gatehouse_core::api_key::{ApiKeyRecord, KeyUsage, is_well_formed};
use gatehouse_core::ids::ApiKeyId;
use gatehouse_core::org::{KeyExpiration, OrgPolicy};
use gatehouse_core::scope::Scopes;
use gatehouse_core::service::NewApiKey;

fn key_for(user: &AccountId, name: &str, secret: &str) -> ApiKeyRecord {
    ApiKeyRecord {
        id: ApiKeyId::generate(),
        user_id: user.clone(),
        kind: gatehouse_core::api_key::ApiKeyKind::Personal,
        name: name.into(),
        display_prefix: "gwk_abcdef".into(),
        key_hash: TokenHash::of(secret),
        permissions: Scopes::of(["account:read", "api_keys:write"]),
        created_at: t0(),
        created_by: "someone".into(),
        expires_at: Some(t0() + Duration::days(30)),
        last_used_at: None,
        last_used_ip: None,
        last_used_user_agent: None,
        enabled: true,
        parent_id: None,
        revoked_at: None,
    }
}

conformance!(
    api_keys_are_owner_scoped_unique_by_name_and_round_trip,
    |store: Arc<dyn Store>| async move {
        let a = add_user(&store, "owner").await;
        let b = add_user(&store, "other").await;
        let k = key_for(&a.id, "ci", "secret-a");
        store.insert_api_key(&k).await.expect("insert");
        let got = store
            .api_key_by_hash(&TokenHash::of("secret-a"))
            .await
            .expect("q")
            .expect("found");
        assert_eq!(got.id, k.id);
        assert_eq!(got.permissions, k.permissions);
        assert_eq!(got.expires_at, k.expires_at);
        assert!(
            store
                .api_key_by_id(&a.id, &k.id)
                .await
                .expect("q")
                .is_some()
        );
        assert!(
            store
                .api_key_by_id(&b.id, &k.id)
                .await
                .expect("q")
                .is_none(),
            "another user's key is invisible"
        );
        let t = OffsetDateTime::from_unix_timestamp(1_900_000_000).expect("t");
        assert!(
            !store
                .set_api_key_enabled(&b.id, &k.id, false, t)
                .await
                .expect("q")
        );
        assert!(!store.delete_api_key(&b.id, &k.id, t).await.expect("q"));
        match store
            .insert_api_key(&key_for(&a.id, "ci", "secret-b"))
            .await
        {
            Err(Error::Conflict(m)) => assert!(m.contains("name"), "{m}"),
            other => panic!("expected conflict, got {other:?}"),
        }
        store
            .insert_api_key(&key_for(&b.id, "ci", "secret-c"))
            .await
            .expect("same name, other user");
        assert!(
            store
                .set_api_key_enabled(&a.id, &k.id, false, t + Duration::seconds(1))
                .await
                .expect("disable")
        );
        assert!(
            !store
                .api_key_by_id(&a.id, &k.id)
                .await
                .expect("q")
                .expect("f")
                .enabled
        );
        assert_eq!(
            store
                .list_api_keys(&a.id, &Default::default())
                .await
                .expect("list")
                .len(),
            1
        );
        assert_eq!(store.count_api_keys().await.expect("count"), 2);
        assert!(
            store
                .delete_api_key(&a.id, &k.id, t + Duration::seconds(2))
                .await
                .expect("delete")
        );
        assert!(
            store
                .api_key_by_hash(&k.key_hash)
                .await
                .expect("q")
                .is_none()
        );
        let (id, owner) = store
            .delete_api_key_by_hash(&TokenHash::of("secret-c"), t + Duration::seconds(3))
            .await
            .expect("q")
            .expect("existed");
        assert_eq!(owner, b.id);
        assert!(!id.0.is_empty());
        assert!(
            store
                .delete_api_key_by_hash(&TokenHash::of("secret-c"), t + Duration::seconds(4))
                .await
                .expect("q")
                .is_none()
        );
        assert_eq!(
            published(&store, t).await,
            vec![
                (t + Duration::seconds(1), Invalidation::ApiKey(k.id.clone())),
                (t + Duration::seconds(2), Invalidation::ApiKey(k.id.clone())),
                (t + Duration::seconds(3), Invalidation::ApiKey(id)),
            ],
            "disable, delete and revoke publish; refused changes publish nothing"
        );
    }
);

conformance!(
    key_usage_is_recorded_and_never_moves_backwards,
    |store: Arc<dyn Store>| async move {
        let a = add_user(&store, "user1").await;
        let k = key_for(&a.id, "k", "s");
        store.insert_api_key(&k).await.expect("insert");
        let later = t0() + Duration::minutes(3);
        let usage = |at, ip: &str| KeyUsage {
            id: k.id.clone(),
            at,
            ip: Some(ip.parse().expect("ip")),
            user_agent: Some("curl/8".into()),
        };
        store
            .record_api_key_usage(&[usage(later, "192.0.2.9")])
            .await
            .expect("record");
        store
            .record_api_key_usage(&[usage(t0(), "192.0.2.1")])
            .await
            .expect("older");
        let got = store
            .api_key_by_id(&a.id, &k.id)
            .await
            .expect("q")
            .expect("f");
        assert_eq!(got.last_used_at, Some(later));
        assert_eq!(got.last_used_ip.as_deref(), Some("192.0.2.9"));
        assert_eq!(got.last_used_user_agent.as_deref(), Some("curl/8"));
    }
);

conformance!(org_policy_defaults_then_round_trips, |store: Arc<
    dyn Store,
>| async move {
    let org = store.ensure_org("default", t0()).await.expect("org");
    assert_eq!(
        store.org_policy(&org.id).await.expect("q"),
        OrgPolicy::default()
    );
    let p = OrgPolicy {
        api_key_expirations: vec![KeyExpiration::Days(7), KeyExpiration::Days(30)],
        api_key_user_choice: false,
        api_key_default_expiration: KeyExpiration::Days(7),
        require_disable_before_delete: true,
        token_max_hours: 12,
        token_user_choice: false,
        token_default_hours: 4,
        require_mfa: true,
        enforce_security_key: true,
        passkey_sign_in: false,
        security_key_models: OrgPolicy::parse_models(
            "cb69481e-8ff7-4039-93ec-0a2729a154a8, ee882879-721c-4913-9775-3dfcce97072a",
        )
        .expect("models"),
        caps: gatehouse_core::org::AccountCaps {
            api_keys: Some(5),
            tokens: None,
            ssh_keys: Some(2),
            ssh_private_keys: Some(1),
        },
    };
    assert_eq!(p.security_key_models.len(), 2);
    assert!(OrgPolicy::parse_models("any").expect("any").is_empty());
    assert!(OrgPolicy::parse_models("yubikey").is_err());
    store.set_org_policy(&org.id, &p).await.expect("set");
    assert_eq!(store.org_policy(&org.id).await.expect("q"), p);
    let p2 = OrgPolicy {
        api_key_user_choice: true,
        ..p
    };
    store.set_org_policy(&org.id, &p2).await.expect("update");
    assert_eq!(store.org_policy(&org.id).await.expect("q"), p2);
});

conformance!(
    a_created_key_authenticates_until_disabled_or_deleted,
    |store: Arc<dyn Store>| async move {
        let (core, _) = core_with(store.clone());
        let actor = member_actor(&core, "kate").await;
        let (rec, secret) = core
            .create_api_key(
                &actor,
                NewApiKey {
                    name: "deploy",
                    expiration: None,
                    permissions: None,
                },
            )
            .await
            .expect("create");
        assert!(is_well_formed(secret.expose()));
        assert_eq!(
            rec.permissions,
            Scopes::of(["account:read"]),
            "documented default"
        );
        assert_eq!(
            rec.expires_at,
            Some(t0() + Duration::days(30)),
            "policy default"
        );
        // Only the hash is stored.
        let stored = store
            .api_key_by_hash(&TokenHash::of(secret.expose()))
            .await
            .expect("q")
            .expect("f");
        assert_ne!(stored.key_hash.to_hex(), secret.expose());
        let p = core
            .authenticate_api_key(secret.expose(), ctx())
            .await
            .expect("auth");
        assert_eq!(p.user().username, "kate");
        core.set_api_key_enabled(&actor, &rec.id, false)
            .await
            .expect("disable");
        assert!(matches!(
            core.authenticate_api_key(secret.expose(), ctx()).await,
            Err(Error::Unauthenticated)
        ));
        core.set_api_key_enabled(&actor, &rec.id, true)
            .await
            .expect("enable");
        core.authenticate_api_key(secret.expose(), ctx())
            .await
            .expect("auth again");
        core.delete_api_key(&actor, &rec.id).await.expect("delete");
        assert!(matches!(
            core.authenticate_api_key(secret.expose(), ctx()).await,
            Err(Error::Unauthenticated)
        ));
        assert!(matches!(
            core.get_api_key(&actor, &rec.id).await,
            Err(Error::NotFound)
        ));
    }
);

conformance!(
    a_key_change_on_one_node_reaches_the_others_at_their_next_poll,
    |store: Arc<dyn Store>| async move {
        // Two nodes over one store, each with its own caches.
        let (a, _) = core_with(store.clone());
        let (b, b_clock) = core_with(store.clone());
        b.refresh_invalidations().await.expect("first poll");
        let refused = |r: gatehouse_core::Result<_>| matches!(r, Err(Error::Unauthenticated));
        let actor = member_actor(&a, "nina").await;
        let new = |name| NewApiKey {
            name,
            expiration: None,
            permissions: None,
        };
        let (rec, secret) = a.create_api_key(&actor, new("ci")).await.expect("create");
        let key = secret.expose();
        b.authenticate_api_key(key, ctx())
            .await
            .expect("b caches it");

        a.set_api_key_enabled(&actor, &rec.id, false)
            .await
            .expect("disable on a");
        assert!(
            refused(a.authenticate_api_key(key, ctx()).await),
            "at once on a"
        );
        assert!(
            b.authenticate_api_key(key, ctx()).await.is_ok(),
            "b trusts its cache until its next poll (the documented window)"
        );
        b_clock.advance(Duration::seconds(5));
        b.refresh_invalidations().await.expect("poll");
        assert!(
            refused(b.authenticate_api_key(key, ctx()).await),
            "b after its poll"
        );

        a.set_api_key_enabled(&actor, &rec.id, true)
            .await
            .expect("enable on a");
        assert!(
            refused(b.authenticate_api_key(key, ctx()).await),
            "b caches refusals too"
        );
        b.refresh_invalidations().await.expect("poll");
        b.authenticate_api_key(key, ctx())
            .await
            .expect("re-enabled on b");

        // Disabling the account on a reaches b's keys (and the next poll is idempotent).
        a.set_account_disabled("nina", true)
            .await
            .expect("disable user");
        b.refresh_invalidations().await.expect("poll");
        b.refresh_invalidations().await.expect("poll again");
        assert!(
            refused(b.authenticate_api_key(key, ctx()).await),
            "owner disabled"
        );
        a.set_account_disabled("nina", false)
            .await
            .expect("enable user");
        b.refresh_invalidations().await.expect("poll");
        b.authenticate_api_key(key, ctx())
            .await
            .expect("owner enabled");

        // A leaked key revoked by value on a, and a key deleted on a.
        a.revoke_leaked_keys(&[key.to_string()], None)
            .await
            .expect("revoke");
        let (rec2, secret2) = a.create_api_key(&actor, new("cd")).await.expect("create");
        b.authenticate_api_key(secret2.expose(), ctx())
            .await
            .expect("b caches the second key");
        a.delete_api_key(&actor, &rec2.id).await.expect("delete");
        b.refresh_invalidations().await.expect("poll");
        assert!(refused(b.authenticate_api_key(key, ctx()).await), "revoked");
        assert!(
            refused(b.authenticate_api_key(secret2.expose(), ctx()).await),
            "deleted"
        );
    }
);

conformance!(
    a_missed_invalidation_lasts_at_most_the_key_cache_ttl,
    |store: Arc<dyn Store>| async move {
        let (a, _) = core_with(store.clone());
        let (b, b_clock) = core_with(store.clone());
        let actor = member_actor(&a, "omar").await;
        let (rec, secret) = a
            .create_api_key(
                &actor,
                NewApiKey {
                    name: "ci",
                    expiration: None,
                    permissions: None,
                },
            )
            .await
            .expect("create");
        b.authenticate_api_key(secret.expose(), ctx())
            .await
            .expect("b caches it");
        a.set_api_key_enabled(&actor, &rec.id, false)
            .await
            .expect("disable");
        // Lose the invalidation, as if b had been partitioned from the store for longer
        // than invalidations are kept.
        store
            .delete_invalidations_before(t0() + Duration::days(1))
            .await
            .expect("drop");
        b.refresh_invalidations().await.expect("poll");
        let ttl = b.settings().key_cache_ttl;
        b_clock.advance(ttl - Duration::seconds(1));
        assert!(b.authenticate_api_key(secret.expose(), ctx()).await.is_ok());
        b_clock.advance(Duration::seconds(1));
        assert!(matches!(
            b.authenticate_api_key(secret.expose(), ctx()).await,
            Err(Error::Unauthenticated)
        ));
    }
);

conformance!(keys_expire_and_last_use_is_flushed, |store: Arc<
    dyn Store,
>| async move {
    let (core, clock) = core_with(store.clone());
    let actor = member_actor(&core, "liam").await;
    let (rec, secret) = core
        .create_api_key(
            &actor,
            NewApiKey {
                name: "week",
                expiration: Some(KeyExpiration::Days(7)),
                permissions: None,
            },
        )
        .await
        .expect("create");
    core.authenticate_api_key(secret.expose(), ctx())
        .await
        .expect("auth");
    core.flush().await.expect("flush");
    let got = core.get_api_key(&actor, &rec.id).await.expect("get");
    assert_eq!(got.last_used_at, Some(t0()));
    assert_eq!(got.last_used_ip.as_deref(), Some("198.51.100.2"));
    clock.advance(Duration::days(7));
    assert!(matches!(
        core.authenticate_api_key(secret.expose(), ctx()).await,
        Err(Error::Unauthenticated)
    ));
});

conformance!(
    no_key_can_mint_a_key_with_more_permissions_than_it_has,
    |store: Arc<dyn Store>| async move {
        let (core, _) = core_with(store);
        let actor = member_actor(&core, "mona").await;
        let perms = vec!["account:read".to_owned()];
        let (_, weak) = core
            .create_api_key(
                &actor,
                NewApiKey {
                    name: "weak",
                    expiration: None,
                    permissions: Some(&perms),
                },
            )
            .await
            .expect("create");
        let weak_actor = core.key_actor(
            &core
                .authenticate_api_key(weak.expose(), ctx())
                .await
                .expect("auth"),
        );
        let r = core
            .create_api_key(
                &weak_actor,
                NewApiKey {
                    name: "x",
                    expiration: None,
                    permissions: None,
                },
            )
            .await;
        assert!(
            matches!(r, Err(Error::InsufficientPermissions(_))),
            "no api_keys:write: {r:?}"
        );

        let perms = vec!["api_keys:write".to_owned(), "account:read".to_owned()];
        let (_, writer) = core
            .create_api_key(
                &actor,
                NewApiKey {
                    name: "writer",
                    expiration: None,
                    permissions: Some(&perms),
                },
            )
            .await
            .expect("create");
        let writer_actor = core.key_actor(
            &core
                .authenticate_api_key(writer.expose(), ctx())
                .await
                .expect("auth"),
        );
        let more = vec!["ssh_keys:write".to_owned()];
        let r = core
            .create_api_key(
                &writer_actor,
                NewApiKey {
                    name: "y",
                    expiration: None,
                    permissions: Some(&more),
                },
            )
            .await;
        assert!(matches!(r, Err(Error::InsufficientPermissions(_))), "{r:?}");
        let admin_only = vec!["ssh_keys:read_all".to_owned()];
        let r = core
            .create_api_key(
                &actor,
                NewApiKey {
                    name: "z",
                    expiration: None,
                    permissions: Some(&admin_only),
                },
            )
            .await;
        assert!(
            matches!(r, Err(Error::InsufficientPermissions(_))),
            "members cannot grant admin scopes: {r:?}"
        );
        let r = core
            .create_api_key(
                &writer_actor,
                NewApiKey {
                    name: "ok",
                    expiration: None,
                    permissions: None,
                },
            )
            .await;
        assert!(r.is_ok(), "a subset is fine: {r:?}");
    }
);

conformance!(
    duplicates_copy_permissions_with_a_new_secret_and_policy_rules_apply,
    |store: Arc<dyn Store>| async move {
        let (core, _) = core_with(store.clone());
        let actor = member_actor(&core, "nick").await;
        let perms = vec!["account:read".to_owned(), "ssh_keys:read".to_owned()];
        let (orig, s1) = core
            .create_api_key(
                &actor,
                NewApiKey {
                    name: "build",
                    expiration: Some(KeyExpiration::Never),
                    permissions: Some(&perms),
                },
            )
            .await
            .expect("create");
        assert_eq!(orig.expires_at, None);
        let (copy, s2) = core
            .duplicate_api_key(&actor, &orig.id, None, None)
            .await
            .expect("dup");
        assert_eq!(copy.name, "build (copy)");
        assert_eq!(copy.permissions, orig.permissions);
        assert_ne!(s1.expose(), s2.expose());
        assert_eq!(
            copy.expires_at,
            Some(t0() + Duration::days(30)),
            "the copy follows the policy default"
        );

        let org = actor.user.org_id.clone();
        core.set_org_policy(
            &org,
            &OrgPolicy {
                api_key_expirations: vec![KeyExpiration::Days(7)],
                api_key_user_choice: true,
                api_key_default_expiration: KeyExpiration::Days(7),
                require_disable_before_delete: true,
                ..OrgPolicy::default()
            },
        )
        .await
        .expect("policy");
        let r = core
            .create_api_key(
                &actor,
                NewApiKey {
                    name: "n",
                    expiration: Some(KeyExpiration::Never),
                    permissions: None,
                },
            )
            .await;
        assert!(
            matches!(
                r,
                Err(Error::Invalid {
                    field: "expires_in_days",
                    ..
                })
            ),
            "{r:?}"
        );
        match core.delete_api_key(&actor, &copy.id).await {
            Err(Error::Conflict(m)) => assert!(m.contains("disable"), "{m}"),
            other => panic!("expected conflict, got {other:?}"),
        }
        core.set_api_key_enabled(&actor, &copy.id, false)
            .await
            .expect("disable");
        core.delete_api_key(&actor, &copy.id)
            .await
            .expect("delete after disable");
    }
);

conformance!(
    leaked_keys_are_revoked_by_value,
    |store: Arc<dyn Store>| async move {
        let (core, _) = core_with(store.clone());
        let actor = member_actor(&core, "olga").await;
        let (_, secret) = core
            .create_api_key(
                &actor,
                NewApiKey {
                    name: "leaky",
                    expiration: None,
                    permissions: None,
                },
            )
            .await
            .expect("create");
        core.authenticate_api_key(secret.expose(), ctx())
            .await
            .expect("auth");
        core.revoke_leaked_keys(&[secret.expose().to_owned(), "junk".into()], None)
            .await
            .expect("revoke");
        assert!(matches!(
            core.authenticate_api_key(secret.expose(), ctx()).await,
            Err(Error::Unauthenticated)
        ));
        let audit = core
            .recent_audit(Some(&actor.user.id), 20)
            .await
            .expect("audit");
        assert!(audit.iter().any(|e| e.action == "api_key.revoked_leaked"));
    }
);

conformance!(disabling_the_owner_stops_their_keys, |store: Arc<
    dyn Store,
>| async move {
    let (core, _) = core_with(store);
    let actor = member_actor(&core, "pete").await;
    let (_, secret) = core
        .create_api_key(
            &actor,
            NewApiKey {
                name: "k",
                expiration: None,
                permissions: None,
            },
        )
        .await
        .expect("create");
    core.authenticate_api_key(secret.expose(), ctx())
        .await
        .expect("auth");
    core.set_account_disabled("pete", true)
        .await
        .expect("disable");
    assert!(matches!(
        core.authenticate_api_key(secret.expose(), ctx()).await,
        Err(Error::Unauthenticated)
    ));
});

// ---- Credential chains, caps, pages and stale counters ---------------------------

use gatehouse_core::page::{After, PageRequest};

conformance!(
    key_pages_follow_the_cursor_across_ties_without_repeats_or_gaps,
    |store: Arc<dyn Store>| async move {
        let a = add_user(&store, "pager").await;
        let b = add_user(&store, "bystander").await;
        let mut ids = Vec::new();
        for (i, offset) in [0, 0, 0, 1, 2, 2, 5].into_iter().enumerate() {
            let mut k = key_for(&a.id, &format!("k{i}"), &format!("pager-{i}"));
            k.created_at = t0() + Duration::seconds(offset);
            store.insert_api_key(&k).await.expect("insert");
            ids.push((k.created_at.unix_timestamp(), k.id.0));
        }
        store
            .insert_api_key(&key_for(&b.id, "other", "bystander"))
            .await
            .expect("insert");
        ids.sort();
        let mut seen = Vec::new();
        let mut page = PageRequest::first(2);
        loop {
            let rows = store.list_api_keys(&a.id, &page).await.expect("page");
            assert!(rows.len() <= 3, "at most limit + 1 rows");
            let more = rows.len() > 2;
            let rows = &rows[..rows.len().min(2)];
            seen.extend(
                rows.iter()
                    .map(|k| (k.created_at.unix_timestamp(), k.id.0.clone())),
            );
            if !more {
                break;
            }
            let last = rows.last().expect("row");
            page.after = Some(After {
                created_at: last.created_at.unix_timestamp(),
                id: last.id.0.clone(),
            });
        }
        assert_eq!(
            seen, ids,
            "every key once, in (time, id) order, only the owner's"
        );
        let now = t0() + Duration::days(1);
        assert_eq!(store.count_live_api_keys(&a.id, now).await.expect("n"), 7);
        assert_eq!(
            store
                .count_live_api_keys(&a.id, t0() + Duration::days(31))
                .await
                .expect("n"),
            0,
            "expired keys do not count"
        );
    }
);

conformance!(
    keys_minted_by_a_parent_are_revoked_once_with_an_invalidation_each,
    |store: Arc<dyn Store>| async move {
        let a = add_user(&store, "chain").await;
        let mut child = key_for(&a.id, "child", "chain-child");
        child.parent_id = Some("tok_parent".into());
        let mut sibling = key_for(&a.id, "sibling", "chain-sibling");
        sibling.parent_id = Some("key_other".into());
        let plain = key_for(&a.id, "plain", "chain-plain");
        for k in [&child, &sibling, &plain] {
            store.insert_api_key(k).await.expect("insert");
        }
        let t = t0() + Duration::hours(1);
        let revoked = store
            .revoke_api_keys_by_parent("tok_parent", t)
            .await
            .expect("revoke");
        assert_eq!(
            revoked,
            vec![(child.id.clone(), TokenHash::of("chain-child"))]
        );
        let got = store
            .api_key_by_id(&a.id, &child.id)
            .await
            .expect("q")
            .expect("f");
        assert!(!got.enabled && got.revoked_at == Some(t), "{got:?}");
        assert_eq!(got.parent_id.as_deref(), Some("tok_parent"));
        assert!(
            store
                .revoke_api_keys_by_parent("tok_parent", t)
                .await
                .expect("again")
                .is_empty(),
            "revoked once"
        );
        assert_eq!(
            published(&store, t).await,
            vec![(t, Invalidation::ApiKey(child.id.clone()))]
        );
        // Signing out everywhere revokes every key a token made, and only those.
        let mut from_token = key_for(&a.id, "from-token", "chain-token");
        from_token.parent_id = Some("tok_another".into());
        store.insert_api_key(&from_token).await.expect("insert");
        let t2 = t + Duration::seconds(5);
        let ended = store
            .revoke_token_minted_api_keys(&a.id, t2)
            .await
            .expect("revoke");
        assert_eq!(
            ended,
            vec![(from_token.id.clone(), TokenHash::of("chain-token"))]
        );
        for k in [&sibling, &plain] {
            let got = store
                .api_key_by_id(&a.id, &k.id)
                .await
                .expect("q")
                .expect("f");
            assert!(got.enabled && got.revoked_at.is_none(), "{}", got.name);
        }
        assert_eq!(store.count_live_api_keys(&a.id, t2).await.expect("n"), 2);
    }
);

conformance!(
    stale_failure_counters_are_swept_but_a_real_accounts_hard_lock_stays,
    |store: Arc<dyn Store>| async move {
        add_user(&store, "locked").await;
        add_user(&store, "recent").await;
        add_user(&store, "idle").await;
        let old = t0();
        for i in 0..3 {
            store.record_failure("login:locked", old).await.expect("f");
            store
                .record_failure("login:made-up-name", old)
                .await
                .expect("f");
            if i < 2 {
                store.record_failure("login:idle", old).await.expect("f");
            }
        }
        store
            .record_failure("login:recent", old + Duration::hours(30))
            .await
            .expect("f");
        store
            .record_failure("login:fresh-made-up", old + Duration::hours(30))
            .await
            .expect("f");
        let now = old + Duration::hours(30) + Duration::minutes(10);
        // Hard limit 3: "locked" and the made-up name reached it.
        let swept = store
            .delete_stale_failures(now - Duration::hours(25), now - Duration::hours(1), 3)
            .await
            .expect("sweep");
        assert_eq!(swept, 2, "idle real account and old made-up name");
        assert!(
            store
                .failure_state("login:locked")
                .await
                .expect("q")
                .is_some()
        );
        assert!(
            store
                .failure_state("login:recent")
                .await
                .expect("q")
                .is_some()
        );
        assert!(
            store
                .failure_state("login:fresh-made-up")
                .await
                .expect("q")
                .is_some()
        );
        assert!(
            store
                .failure_state("login:idle")
                .await
                .expect("q")
                .is_none()
        );
        assert!(
            store
                .failure_state("login:made-up-name")
                .await
                .expect("q")
                .is_none()
        );
    }
);

conformance!(audit_records_keep_the_user_agent, |store: Arc<
    dyn Store,
>| async move {
    let ev = AuditEvent::new(t0(), "api_key.created").user_agent(Some("curl/8.1"));
    store.insert_audit(&ev).await.expect("insert");
    let got = store.list_audit(None, 10).await.expect("list");
    assert_eq!(got[0].user_agent.as_deref(), Some("curl/8.1"));
});
