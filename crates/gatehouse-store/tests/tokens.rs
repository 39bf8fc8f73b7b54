//! Bearer tokens over a real store (SQLite and PostgreSQL): signing keys and rotation,
//! issuing, verification, expiry, audience, revocation and the per-user "not before".

use std::sync::Arc;

use gatehouse_core::Error;
use gatehouse_core::actor::Actor;
use gatehouse_core::clock::ManualClock;
use gatehouse_core::ids::TokenId;
use gatehouse_core::org::OrgPolicy;
use gatehouse_core::seal::{Keyring, MasterKey};
use gatehouse_core::secrecy::ExposeSecret;
use gatehouse_core::secret::TokenHash;
use gatehouse_core::service::{NewApiKey, NewToken};
use gatehouse_core::store::Store;
use gatehouse_core::token::{Lifetime, TokenSettings};
use gatehouse_core::{Core, CoreSettings};
use time::Duration;

mod common;
use common::*;

fn hours(h: u32) -> Option<Lifetime> {
    Some(Lifetime::hours(h).expect("valid"))
}

fn new_token(h: u32) -> NewToken<'static> {
    NewToken {
        name: Some("cli"),
        lifetime: hours(h),
        permissions: None,
    }
}

async fn issue(core: &Core, actor: &Actor, h: u32) -> (TokenId, String) {
    let (rec, token) = core.issue_token(actor, new_token(h)).await.expect("issue");
    (rec.id, token.expose_secret().to_owned())
}

async fn ready(store: Arc<dyn Store>) -> (Core, Arc<ManualClock>) {
    let (core, clock) = core_with(store);
    core.init_signing_keys().await.expect("keys");
    (core, clock)
}

fn refused(r: Result<impl std::fmt::Debug, Error>) {
    assert!(matches!(r, Err(Error::Unauthenticated)), "{r:?}");
}

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().expect("header");
    let json: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header)
            .expect("b64"),
    )
    .expect("json");
    json["kid"].as_str().expect("kid").to_owned()
}

conformance!(
    a_token_authenticates_until_revoked_and_only_its_hash_is_stored,
    |store: Arc<dyn Store>| async move {
        let (core, _) = ready(store.clone()).await;
        let actor = member_actor(&core, "tara").await;
        let (id, token) = issue(&core, &actor, 1).await;
        let p = core.authenticate_token(&token, None).await.expect("auth");
        assert_eq!(p.user.username, "tara");
        assert_eq!(p.token_id, id);
        assert_eq!(p.scopes, actor.scopes, "by default, all of the creator's");
        assert_eq!(p.expires_at - p.issued_at, Duration::hours(1));

        let rec = store.token_by_id(&id).await.expect("q").expect("stored");
        assert_eq!(rec.token_hash, TokenHash::of(&token));
        let listed = core
            .list_tokens(&actor, &Default::default())
            .await
            .expect("list")
            .items;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].name, "cli");

        // Someone else cannot revoke it, and learns nothing.
        let other = member_actor(&core, "uma").await;
        assert!(matches!(
            core.revoke_token(&other, &id).await,
            Err(Error::NotFound)
        ));
        core.authenticate_token(&token, None)
            .await
            .expect("still valid");

        core.revoke_token(&actor, &id).await.expect("revoke");
        refused(core.authenticate_token(&token, None).await);
        assert!(
            core.list_tokens(&actor, &Default::default())
                .await
                .expect("list")
                .items
                .is_empty()
        );
        assert!(matches!(
            core.revoke_token(&actor, &id).await,
            Err(Error::NotFound)
        ));
    }
);

conformance!(
    tokens_expire_and_are_not_accepted_before_their_time,
    |store: Arc<dyn Store>| async move {
        let (core, clock) = ready(store.clone()).await;
        let actor = member_actor(&core, "vic").await;
        let (_, token) = issue(&core, &actor, 1).await;
        core.authenticate_token(&token, None).await.expect("fresh");
        // Within the 60 s skew after expiry it still works (cached), then it stops.
        clock.advance(Duration::hours(1) + Duration::seconds(60));
        core.authenticate_token(&token, None)
            .await
            .expect("inside the skew");
        clock.advance(Duration::seconds(2));
        refused(core.authenticate_token(&token, None).await);
        assert!(
            core.list_tokens(&actor, &Default::default())
                .await
                .expect("list")
                .items
                .is_empty()
        );

        // A node whose clock runs ten minutes ahead issues a token; a node on time
        // refuses it until it is within the 60 s skew of its `nbf`.
        let master = Arc::new(Keyring::single(MasterKey::generate()));
        let on_time = Arc::new(ManualClock::new(t0()));
        let ahead = Arc::new(ManualClock::new(t0() + Duration::minutes(10)));
        let node = |clock: Arc<ManualClock>| {
            Core::new(store.clone(), clock, fast_settings())
                .expect("core")
                .with_master_keys(master.clone())
        };
        let (a, b) = (node(ahead), node(on_time.clone()));
        // The first core's keys were sealed under another master key.
        assert!(a.init_signing_keys().await.is_err());
        a.rotate_signing_key()
            .await
            .expect("key under the shared master");
        b.refresh_signing_keys().await.expect("keys");
        let actor = member_actor(&a, "vera").await;
        let (_, early) = issue(&a, &actor, 1).await;
        refused(b.authenticate_token(&early, None).await);
        on_time.advance(Duration::minutes(9));
        b.authenticate_token(&early, None)
            .await
            .expect("within the skew");
    }
);

conformance!(the_audience_and_issuer_must_match, |store: Arc<
    dyn Store,
>| async move {
    let master = Arc::new(Keyring::single(MasterKey::generate()));
    let clock = Arc::new(ManualClock::new(t0()));
    let build = |audience: &str, issuer: &str| {
        Core::new(
            store.clone(),
            clock.clone(),
            CoreSettings {
                tokens: TokenSettings {
                    audience: audience.into(),
                    issuer: issuer.into(),
                    cache_capacity: 100,
                    ..TokenSettings::default()
                },
                ..fast_settings()
            },
        )
        .expect("core")
        .with_master_keys(master.clone())
    };
    let ours = build("gatehouse", "https://a.example");
    ours.init_signing_keys().await.expect("keys");
    let actor = member_actor(&ours, "wes").await;
    let (_, token) = issue(&ours, &actor, 1).await;
    ours.authenticate_token(&token, None).await.expect("ours");

    let other_audience = build("billing", "https://a.example");
    other_audience.init_signing_keys().await.expect("keys");
    refused(other_audience.authenticate_token(&token, None).await);
    let other_issuer = build("gatehouse", "https://b.example");
    other_issuer.init_signing_keys().await.expect("keys");
    refused(other_issuer.authenticate_token(&token, None).await);
});

conformance!(
    signing_keys_are_made_once_rotate_and_age_out,
    |store: Arc<dyn Store>| async move {
        let (core, clock) = ready(store.clone()).await;
        core.init_signing_keys().await.expect("again");
        let keys = store.list_signing_keys().await.expect("list");
        assert_eq!(keys.len(), 1, "created once");
        assert!(keys[0].sealed_private_key.starts_with("gh1."));
        let first_kid = keys[0].kid.clone();

        let actor = member_actor(&core, "xena").await;
        let (_, before) = issue(&core, &actor, 24).await;
        assert_eq!(kid_of(&before), first_kid);

        let new = core.rotate_signing_key().await.expect("rotate");
        let jwks: Vec<String> = core.jwks().into_iter().map(|k| k.kid).collect();
        assert_eq!(jwks.len(), 2);
        assert!(jwks.contains(&first_kid) && jwks.contains(&new.kid));
        let (_, after) = issue(&core, &actor, 1).await;
        assert_eq!(kid_of(&after), new.kid, "the new key signs");
        core.authenticate_token(&before, None)
            .await
            .expect("old tokens still verify");

        // Once every token of the old key has expired, the key leaves the JWKS and store.
        clock.advance(Duration::hours(24) + Duration::seconds(61));
        core.refresh_signing_keys().await.expect("refresh");
        assert_eq!(
            core.jwks().into_iter().map(|k| k.kid).collect::<Vec<_>>(),
            std::slice::from_ref(&new.kid)
        );
        core.sweep().await.expect("sweep");
        let left = store.list_signing_keys().await.expect("list");
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].kid, new.kid);
    }
);

conformance!(
    signing_out_everywhere_or_disabling_revokes_every_token,
    |store: Arc<dyn Store>| async move {
        let (core, clock) = ready(store.clone()).await;
        let actor = member_actor(&core, "yuri").await;
        let (_, a) = issue(&core, &actor, 1).await;
        let (_, b) = issue(&core, &actor, 8).await;
        core.authenticate_token(&a, None).await.expect("a");
        core.sign_out_everywhere(&actor).await.expect("everywhere");
        refused(core.authenticate_token(&a, None).await);
        refused(core.authenticate_token(&b, None).await);
        let floor = store
            .account_by_id(&actor.user.id)
            .await
            .expect("q")
            .expect("user")
            .tokens_not_before;
        assert_eq!(floor, Some(t0()));

        // A token made afterwards works, until the account is disabled.
        clock.advance(Duration::seconds(1));
        let (_, c) = issue(&core, &actor, 1).await;
        core.authenticate_token(&c, None).await.expect("new token");
        core.set_account_disabled("yuri", true)
            .await
            .expect("disable");
        refused(core.authenticate_token(&c, None).await);
        core.set_account_disabled("yuri", false)
            .await
            .expect("enable");
        refused(core.authenticate_token(&c, None).await);
    }
);

conformance!(
    permissions_and_the_policy_bound_what_a_token_may_be,
    |store: Arc<dyn Store>| async move {
        let (core, _) = ready(store.clone()).await;
        let actor = member_actor(&core, "zoe").await;
        let policy = OrgPolicy {
            token_max_hours: 4,
            token_default_hours: 2,
            ..OrgPolicy::default()
        };
        core.set_org_policy(&actor.user.org_id, &policy)
            .await
            .expect("policy");
        let err = core
            .issue_token(&actor, new_token(5))
            .await
            .expect_err("over the cap");
        assert!(err.to_string().contains("at most 4 hours"), "{err}");
        let (rec, _) = core
            .issue_token(
                &actor,
                NewToken {
                    name: None,
                    lifetime: None,
                    permissions: None,
                },
            )
            .await
            .expect("default");
        assert_eq!(rec.expires_at - rec.created_at, Duration::hours(2));
        assert_eq!(rec.name, "token");

        // A key with tokens:write mints tokens holding at most what the key holds.
        let wanted = ["account:read".to_owned(), "tokens:write".to_owned()];
        let (_, key) = core
            .create_api_key(
                &actor,
                NewApiKey {
                    name: "minter",
                    expiration: None,
                    permissions: Some(&wanted),
                },
            )
            .await
            .expect("key");
        let key_actor = core
            .authenticate_api_key(key.expose(), ctx())
            .await
            .expect("key auth")
            .actor
            .clone();
        let (rec, _) = core
            .issue_token(&key_actor, new_token(1))
            .await
            .expect("via key");
        assert_eq!(rec.scopes.iter().collect::<Vec<_>>(), wanted);
        assert_eq!(rec.created_via, "api_key");
        let more = ["api_keys:write".to_owned()];
        assert!(matches!(
            core.issue_token(
                &key_actor,
                NewToken {
                    name: None,
                    lifetime: None,
                    permissions: Some(&more),
                },
            )
            .await,
            Err(Error::InsufficientPermissions(_))
        ));

        // Without tokens:write, no token at all.
        let read_only = ["account:read".to_owned()];
        let (_, ro) = core
            .create_api_key(
                &actor,
                NewApiKey {
                    name: "ro",
                    expiration: None,
                    permissions: Some(&read_only),
                },
            )
            .await
            .expect("key");
        let ro_actor = core
            .authenticate_api_key(ro.expose(), ctx())
            .await
            .expect("auth")
            .actor
            .clone();
        assert!(matches!(
            core.issue_token(&ro_actor, new_token(1)).await,
            Err(Error::InsufficientPermissions(_))
        ));
    }
);

conformance!(other_nodes_learn_of_revocations_by_polling, |store: Arc<
    dyn Store,
>| async move {
    let master = Arc::new(Keyring::single(MasterKey::generate()));
    let clock = Arc::new(ManualClock::new(t0()));
    let node = || {
        Core::new(store.clone(), clock.clone(), fast_settings())
            .expect("core")
            .with_master_keys(master.clone())
    };
    let (a, b) = (node(), node());
    a.init_tokens().await.expect("a");
    b.init_tokens().await.expect("b");
    let actor = member_actor(&a, "olga").await;
    let (id, token) = issue(&a, &actor, 2).await;
    let (_, unseen) = issue(&a, &actor, 2).await;
    b.authenticate_token(&token, None)
        .await
        .expect("b caches it");

    a.revoke_token(&actor, &id).await.expect("revoke on a");
    refused(a.authenticate_token(&token, None).await);
    // b learns at its next poll (every few seconds in a server), not before.
    b.authenticate_token(&token, None)
        .await
        .expect("still cached on b");
    b.refresh_revocations().await.expect("poll");
    refused(b.authenticate_token(&token, None).await);
    b.authenticate_token(&unseen, None)
        .await
        .expect("other tokens are unaffected");

    // A node starting later loads every unexpired revocation.
    let c = node();
    c.init_tokens().await.expect("c");
    refused(c.authenticate_token(&token, None).await);

    // Signing out everywhere also catches tokens issued in the same second.
    let (_, same_second) = issue(&a, &actor, 1).await;
    a.sign_out_everywhere(&actor).await.expect("everywhere");
    refused(a.authenticate_token(&same_second, None).await);
    b.refresh_revocations().await.expect("poll");
    refused(b.authenticate_token(&same_second, None).await);
    refused(b.authenticate_token(&unseen, None).await);
});

conformance!(
    an_account_disabled_on_one_node_drops_its_tokens_from_the_others_caches,
    |store: Arc<dyn Store>| async move {
        let master = Arc::new(Keyring::single(MasterKey::generate()));
        let clock = Arc::new(ManualClock::new(t0()));
        let node = || {
            Core::new(store.clone(), clock.clone(), fast_settings())
                .expect("core")
                .with_master_keys(master.clone())
        };
        let (a, b) = (node(), node());
        a.init_tokens().await.expect("a");
        b.init_tokens().await.expect("b");
        b.refresh_invalidations().await.expect("first poll");
        let actor = member_actor(&a, "pia").await;
        let (_, token) = issue(&a, &actor, 2).await;
        b.authenticate_token(&token, None)
            .await
            .expect("b caches the token and its owner");
        // Cached tokens are trusted for tokens.cache_ttl (15 min), not the session TTL.
        clock.advance(Duration::minutes(10));
        b.authenticate_token(&token, None)
            .await
            .expect("still cached ten minutes on");

        a.set_account_disabled("pia", true)
            .await
            .expect("disable on a");
        b.authenticate_token(&token, None)
            .await
            .expect("cached on b until it polls");
        // The invalidation poll alone (not the revocation poll) is enough.
        b.refresh_invalidations().await.expect("poll");
        refused(b.authenticate_token(&token, None).await);
    }
);
