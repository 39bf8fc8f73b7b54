//! SCIM provisioning over a real store (SQLite and PostgreSQL): filters in SQL with
//! paging, tenancy (another organisation's users and groups, and operators, do not
//! exist for a SCIM key), PATCH all or nothing, deprovisioning that takes every
//! credential away, and group-to-role mappings that never demote the last owner.

use std::sync::Arc;

use gatehouse_core::Core;
use gatehouse_core::Error;
use gatehouse_core::actor::Actor;
use gatehouse_core::org::{Edition, Role};
use gatehouse_core::scim::ListWindow;
use gatehouse_core::secrecy::{ExposeSecret, SecretString};
use gatehouse_core::service::{NewApiKey, NewSshPrivateKey, NewToken};
use gatehouse_core::store::{RoleMapping, Store};
use serde_json::{Value, json};

mod common;
use common::*;

const ED25519: &str = include_str!("../../gatehouse-core/src/ssh/private_key/testdata/ed25519");
const ED25519_PUB: &str =
    include_str!("../../gatehouse-core/src/ssh/private_key/testdata/ed25519.pub");

/// An organisation with an owner and a SCIM key's actor.
async fn org_with_scim(core: &Core, name: &str) -> (Arc<Actor>, Arc<Actor>) {
    core.create_org(name, Edition::Team).await.expect("org");
    let owner = actor_in(core, &format!("{name}-owner"), Role::Owner, Some(name)).await;
    let (_, secret) = core.regenerate_scim_key(&owner).await.expect("scim key");
    let scim = core
        .authenticate_scim(secret.expose(), ctx())
        .await
        .expect("the SCIM key authenticates");
    (owner, scim.actor.clone())
}

async fn create(core: &Core, scim: &Actor, body: Value) -> String {
    core.scim_create_user(scim, &body)
        .await
        .expect("created")
        .account
        .id
        .0
}

async fn names(core: &Core, scim: &Actor, filter: &str) -> Vec<String> {
    let page = core
        .scim_list_users(scim, filter, ListWindow::new(None, None))
        .await
        .unwrap_or_else(|e| panic!("{filter}: {e}"));
    let mut n: Vec<String> = page
        .items
        .iter()
        .map(|u| u.account.username.clone())
        .collect();
    n.sort();
    n
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

conformance!(
    filters_run_in_sql_with_paging_and_stay_inside_the_organisation,
    |store: Arc<dyn Store>| async move {
        let (core, clock) = core_with(store);
        let (_, scim) = org_with_scim(&core, "acme").await;
        let (_, other) = org_with_scim(&core, "globex").await;
        for (i, name) in ["ann", "bob", "cat", "dan", "eve"].iter().enumerate() {
            clock.advance(time::Duration::seconds(10));
            create(
                &core,
                &scim,
                json!({"userName": name, "externalId": format!("ext-{i}"),
                       "displayName": format!("{} Person", name.to_uppercase()),
                       "emails": [{"value": format!("{name}@Corp.example.org"), "primary": true}],
                       "active": i != 4}),
            )
            .await;
        }
        create(
            &core,
            &other,
            json!({"userName": "gus", "externalId": "ext-0"}),
        )
        .await;
        // The database folds both sides alike: exact text with non-ASCII letters matches,
        // and so does another case of its ASCII letters, on either backend.
        create(
            &core,
            &other,
            json!({"userName": "emile", "displayName": "Émile Zola"}),
        )
        .await;
        assert_eq!(
            names(&core, &other, r#"displayName eq "Émile Zola""#).await,
            ["emile"]
        );
        assert_eq!(
            names(&core, &other, r#"displayName eq "ÉMILE ZOLA""#).await,
            ["emile"]
        );
        assert_eq!(
            names(&core, &other, r#"displayName sw "Émile z""#).await,
            ["emile"]
        );
        assert_eq!(names(&core, &scim, r#"userName eq "BOB""#).await, ["bob"]);
        assert_eq!(
            names(&core, &scim, r#"externalId eq "ext-0""#).await,
            ["ann"],
            "not globex's"
        );
        assert!(names(&core, &scim, r#"userName eq "gus""#).await.is_empty());
        assert!(
            names(&core, &scim, r#"externalId eq "EXT-0""#)
                .await
                .is_empty(),
            "caseExact"
        );
        assert_eq!(
            names(
                &core,
                &scim,
                r#"emails.value ew "@corp.example.org" and displayName sw "c""#
            )
            .await,
            ["cat"]
        );
        assert_eq!(
            names(
                &core,
                &scim,
                r#"emails[value co "dan"] or userName eq "ann""#
            )
            .await,
            ["ann", "dan"]
        );
        assert_eq!(names(&core, &scim, "active eq false").await, ["eve"]);
        assert_eq!(
            names(
                &core,
                &scim,
                r#"not (active eq false) and externalId pr and userName ne "ann""#
            )
            .await,
            ["bob", "cat", "dan"]
        );
        let cat = names(&core, &scim, r#"userName ew "t""#).await;
        assert_eq!(cat, ["cat"]);
        let since = core
            .scim_list_users(&scim, r#"userName eq "cat""#, ListWindow::new(None, None))
            .await
            .expect("cat")
            .items[0]
            .modified_at
            .format(&time::format_description::well_known::Rfc3339)
            .expect("time");
        assert_eq!(
            names(&core, &scim, &format!(r#"meta.lastModified gt "{since}""#)).await,
            ["dan", "eve"]
        );
        assert_eq!(
            names(
                &core,
                &scim,
                &format!(r#"meta.lastModified le "{since}" and userName sw "%""#)
            )
            .await,
            Vec::<String>::new(),
            "LIKE wildcards in a value are literal"
        );
        // The owner (made by hand) is visible too; paging over six users.
        let page = core
            .scim_list_users(&scim, "", ListWindow::new(Some(2), Some(2)))
            .await
            .expect("page");
        assert_eq!(page.total, 6);
        assert_eq!(
            page.items
                .iter()
                .map(|u| u.account.username.as_str())
                .collect::<Vec<_>>(),
            ["ann", "bob"]
        );
        let empty = core
            .scim_list_users(&scim, "", ListWindow::new(Some(10), Some(5)))
            .await
            .expect("past the end");
        assert_eq!((empty.total, empty.items.len()), (6, 0));
        assert!(matches!(
            core.scim_list_users(&scim, r#"title eq "x""#, ListWindow::new(None, None))
                .await,
            Err(Error::Invalid {
                field: "filter",
                ..
            })
        ));
    }
);

conformance!(
    another_organisations_users_groups_and_operators_do_not_exist,
    |store: Arc<dyn Store>| async move {
        let (core, _) = core_with(store);
        let operator = core.bootstrap(Some(PW)).await.expect("bootstrap");
        let _ = operator;
        let (_, a) = org_with_scim(&core, "acme").await;
        let (_, b) = org_with_scim(&core, "globex").await;
        let bob = create(&core, &b, json!({"userName": "bob"})).await;
        let group = core
            .scim_create_group(
                &b,
                &json!({"displayName": "Staff", "members": [{"value": bob}]}),
            )
            .await
            .expect("group");
        assert!(matches!(
            core.scim_get_user(&a, &bob).await,
            Err(Error::NotFound)
        ));
        assert!(matches!(
            core.scim_patch_user(
                &a,
                &bob,
                &patch(json!([{"op": "replace", "path": "active", "value": false}])),
                None
            )
            .await,
            Err(Error::NotFound)
        ));
        assert!(matches!(
            core.scim_delete_user(&a, &bob, None).await,
            Err(Error::NotFound)
        ));
        assert!(matches!(
            core.scim_get_group(&a, group.id.as_str(), true).await,
            Err(Error::NotFound)
        ));
        assert!(matches!(
            core.scim_delete_group(&a, group.id.as_str(), None).await,
            Err(Error::NotFound)
        ));
        // B's user as a member of A's group is refused like an id nobody has.
        assert!(matches!(
            core.scim_create_group(
                &a,
                &json!({"displayName": "Mine", "members": [{"value": bob}]})
            )
            .await,
            Err(Error::Invalid { field: "value", .. })
        ));
        assert!(
            core.scim_get_user(&b, &bob)
                .await
                .expect("still there")
                .account
                .username
                == "bob"
        );
        // The bootstrap operator sits in the default organisation; no key sees them.
        for scim in [&a, &b] {
            let all = core
                .scim_list_users(scim, "", ListWindow::new(None, None))
                .await
                .expect("list");
            assert!(all.items.iter().all(|u| !u.account.operator));
        }
        // A taken userName is taken server-wide, whatever its case.
        assert!(matches!(
            core.scim_create_user(&a, &json!({"userName": "BOB"})).await,
            Err(Error::Conflict(_))
        ));
    }
);

conformance!(a_patch_applies_every_operation_or_none, |store: Arc<
    dyn Store,
>| async move {
    let (core, _) = core_with(store);
    let (_, scim) = org_with_scim(&core, "acme").await;
    let id = create(
        &core,
        &scim,
        json!({"userName": "ann", "name": {"givenName": "Ann"}}),
    )
    .await;
    let before = core.scim_get_user(&scim, &id).await.expect("ann");
    let bad = patch(json!([
        {"op": "replace", "path": "name.givenName", "value": "Annie"},
        {"op": "replace", "path": "userName", "value": "not a valid name"},
    ]));
    assert!(matches!(
        core.scim_patch_user(&scim, &id, &bad, None).await,
        Err(Error::Invalid { .. })
    ));
    let after = core.scim_get_user(&scim, &id).await.expect("ann");
    assert_eq!(
        after.given_name.as_deref(),
        Some("Ann"),
        "the first operation did not land"
    );
    assert_eq!(after.etag(), before.etag());
    // A stale If-Match is refused; the current one goes through.
    let good = patch(json!([{"op": "Replace", "path": "name.givenName", "value": "Annie"}]));
    assert!(matches!(
        core.scim_patch_user(&scim, &id, &good, Some("W/\"stale\""))
            .await,
        Err(Error::PreconditionFailed(_))
    ));
    let done = core
        .scim_patch_user(&scim, &id, &good, Some(&before.etag()))
        .await
        .expect("patched");
    assert_eq!(done.given_name.as_deref(), Some("Annie"));
    assert_ne!(done.etag(), before.etag());
});

conformance!(
    deprovisioning_takes_every_credential_away_and_reactivation_restores_sign_in_only,
    |store: Arc<dyn Store>| async move {
        let (core, _) = core_with(store);
        core.init_signing_keys().await.expect("signing keys");
        let (_, scim) = org_with_scim(&core, "acme").await;
        let ann = actor_in(&core, "ann", Role::Member, Some("acme")).await;
        let session = core
            .login(attempt("ann", PW))
            .await
            .expect("login")
            .into_session()
            .expect("session");
        let (_, key) = core
            .create_api_key(
                &ann,
                NewApiKey {
                    name: "laptop",
                    expiration: None,
                    permissions: None,
                },
            )
            .await
            .expect("key");
        let (_, token) = core
            .issue_token(
                &ann,
                NewToken {
                    name: None,
                    lifetime: None,
                    permissions: None,
                },
            )
            .await
            .expect("token");
        core.add_ssh_key(&ann, "laptop", ED25519_PUB.trim())
            .await
            .expect("ssh key");
        let private = SecretString::from(ED25519.to_owned());
        core.add_ssh_private_key(
            &ann,
            NewSshPrivateKey {
                name: "deploy",
                description: None,
                private_key: &private,
                passphrase: None,
            },
        )
        .await
        .expect("private key");
        core.authenticate_api_key(key.expose(), ctx())
            .await
            .expect("key works");
        core.authenticate_token(token.expose_secret(), None)
            .await
            .expect("token works");
        core.authenticate_session(session.token.expose())
            .await
            .expect("session works");

        let off = patch(json!([{"op": "Replace", "path": "active", "value": "False"}]));
        let user = core
            .scim_patch_user(&scim, ann.user.id.as_str(), &off, None)
            .await
            .expect("deactivated");
        assert!(user.account.disabled);
        assert!(
            core.authenticate_api_key(key.expose(), ctx())
                .await
                .is_err()
        );
        assert!(
            core.authenticate_token(token.expose_secret(), None)
                .await
                .is_err()
        );
        assert!(
            core.authenticate_session(session.token.expose())
                .await
                .is_err()
        );
        assert!(
            core.login(attempt("ann", PW)).await.is_err(),
            "no sign-in while inactive"
        );
        let page = gatehouse_core::page::PageRequest::first(10);
        assert!(
            core.list_ssh_keys(&ann, &page)
                .await
                .expect("ssh keys")
                .items
                .is_empty()
        );
        assert!(
            core.list_ssh_private_keys(&ann, &page)
                .await
                .expect("private keys")
                .items
                .is_empty()
        );

        let on = patch(json!([{"op": "replace", "value": {"active": true}}]));
        core.scim_patch_user(&scim, ann.user.id.as_str(), &on, None)
            .await
            .expect("reactivated");
        core.login(attempt("ann", PW))
            .await
            .expect("sign-in is back")
            .into_session()
            .expect("session");
        assert!(
            core.authenticate_api_key(key.expose(), ctx())
                .await
                .is_err(),
            "the key stays revoked"
        );
        assert!(
            core.authenticate_token(token.expose_secret(), None)
                .await
                .is_err(),
            "the token too"
        );

        // DELETE: gone for SCIM, the name stays taken, the account stays disabled.
        core.scim_delete_user(&scim, ann.user.id.as_str(), None)
            .await
            .expect("deleted");
        assert!(matches!(
            core.scim_get_user(&scim, ann.user.id.as_str()).await,
            Err(Error::NotFound)
        ));
        assert!(core.login(attempt("ann", PW)).await.is_err());
        assert!(matches!(
            core.scim_create_user(&scim, &json!({"userName": "ann"}))
                .await,
            Err(Error::Conflict(_))
        ));
    }
);

conformance!(
    mapped_groups_set_roles_and_never_demote_the_last_owner,
    |store: Arc<dyn Store>| async move {
        let (core, _) = core_with(store);
        let (owner, scim) = org_with_scim(&core, "acme").await;
        core.set_scim_role_mappings(
            &owner,
            vec![RoleMapping {
                group: "Gatehouse Admins".into(),
                role: Role::Admin,
            }],
        )
        .await
        .expect("mappings");
        let ann = create(&core, &scim, json!({"userName": "ann"})).await;
        let bob = create(&core, &scim, json!({"userName": "bob"})).await;
        let group = core
            .scim_create_group(
                &scim,
                &json!({"displayName": "gatehouse admins", "members": [{"value": ann}]}),
            )
            .await
            .expect("group");
        let role = |id: String| {
            let core = &core;
            let scim = scim.clone();
            async move {
                core.scim_get_user(&scim, &id)
                    .await
                    .expect("user")
                    .account
                    .role
            }
        };
        assert_eq!(role(ann.clone()).await, Role::Admin);
        assert_eq!(role(bob.clone()).await, Role::Member);
        let swap = patch(json!([
            {"op": "add", "path": "members", "value": [{"value": bob}]},
            {"op": "remove", "path": format!("members[value eq \"{ann}\"]")},
        ]));
        let g = core
            .scim_patch_group(&scim, group.id.as_str(), &swap, None)
            .await
            .expect("patched");
        assert_eq!(g.members.len(), 1);
        assert_eq!(role(ann.clone()).await, Role::Member);
        assert_eq!(role(bob.clone()).await, Role::Admin);
        core.scim_delete_group(&scim, group.id.as_str(), None)
            .await
            .expect("deleted");
        assert_eq!(role(bob.clone()).await, Role::Member);

        // Owners are left alone without an owner mapping.
        let olga = actor_in(&core, "olga", Role::Owner, Some("acme")).await;
        let touch = patch(json!([{"op": "replace", "path": "displayName", "value": "Olga"}]));
        core.scim_patch_user(&scim, olga.user.id.as_str(), &touch, None)
            .await
            .expect("now SCIM-managed");
        assert_eq!(
            role(olga.user.id.0.clone()).await,
            Role::Owner,
            "no owner mapping: owners untouched"
        );
        let adam = actor_in(&core, "adam", Role::Admin, Some("acme")).await;
        assert!(
            matches!(
                core.set_scim_role_mappings(
                    &adam,
                    vec![RoleMapping {
                        group: "Owners".into(),
                        role: Role::Owner
                    }]
                )
                .await,
                Err(Error::Forbidden(_)),
            ),
            "only an owner maps a group to owner"
        );
        // With an owner mapping, olga (in no mapped group) would be demoted, but she is
        // the last active owner once the first one steps down: she stays, and it is audited.
        core.change_member_role(&olga, &owner.user.id, Role::Admin)
            .await
            .expect("first owner steps down");
        core.set_scim_role_mappings(
            &olga,
            vec![RoleMapping {
                group: "Owners".into(),
                role: Role::Owner,
            }],
        )
        .await
        .expect("mappings");
        assert_eq!(
            role(olga.user.id.0.clone()).await,
            Role::Owner,
            "the last owner is never demoted"
        );
        let log = core
            .recent_audit(Some(&olga.user.id), 20)
            .await
            .expect("audit");
        assert!(log.iter().any(|e| e.action == "scim.role.kept"), "{log:?}");
        // An admin may change the rest of the list, not which groups make owners.
        let adam = actor_in(&core, "adam2", Role::Admin, Some("acme")).await;
        core.set_scim_role_mappings(
            &adam,
            vec![
                RoleMapping {
                    group: "owners".into(),
                    role: Role::Owner,
                },
                RoleMapping {
                    group: "Staff".into(),
                    role: Role::Member,
                },
            ],
        )
        .await
        .expect("the owner mapping is kept as it was");
        assert!(
            matches!(
                core.set_scim_role_mappings(&adam, vec![]).await,
                Err(Error::Forbidden(_))
            ),
            "dropping the owner mapping takes an owner"
        );
    }
);
