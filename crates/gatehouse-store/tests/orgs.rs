//! Organisations over a real store (SQLite and PostgreSQL): the last-owner guard under
//! concurrent changes, tenancy of members and keys in the store queries themselves, and
//! the organisation's keys (Public API Keys, the Team Computer Key, the SCIM key) through
//! the use cases.

use std::sync::Arc;

use gatehouse_core::Error;
use gatehouse_core::api_key::ApiKeyKind;
use gatehouse_core::ids::AccountId;
use gatehouse_core::org::{Edition, Role};
use gatehouse_core::page::PageRequest;
use gatehouse_core::service::{NewApiKey, NewOrgKey};
use gatehouse_core::store::{MemberChange, MemberFilter, OrgKeyDeleted, OrgKeyFilter, Store};

mod common;
use common::*;

const ED25519_PUB: &str =
    include_str!("../../gatehouse-core/src/ssh/private_key/testdata/ed25519.pub");
const ECDSA_PUB: &str =
    include_str!("../../gatehouse-core/src/ssh/private_key/testdata/ecdsa256.pub");

fn page() -> PageRequest {
    PageRequest::first(200)
}

conformance!(
    concurrent_demotions_always_leave_exactly_one_active_owner,
    |store: Arc<dyn Store>| async move {
        let (core, _) = core_with(store.clone());
        let org = core.create_org("acme", Edition::Team).await.expect("org");
        for round in 0..3 {
            // Eight owners each demote themselves (or are disabled) at the same moment.
            let mut owners: Vec<AccountId> = Vec::new();
            for i in 0..8 {
                let a =
                    actor_in(&core, &format!("own{round}x{i}"), Role::Owner, Some("acme")).await;
                owners.push(a.user.id.clone());
            }
            // The owners of earlier rounds step down first, outside the race.
            let earlier = store
                .list_members(
                    &org.id,
                    &MemberFilter {
                        role: Some(Role::Owner),
                        disabled: Some(false),
                    },
                    &page(),
                )
                .await
                .expect("list");
            for m in earlier.iter().filter(|m| !owners.contains(&m.account.id)) {
                store
                    .change_member(
                        Some(&org.id),
                        &m.account.id,
                        &MemberChange::Role(Role::Member),
                        t0(),
                    )
                    .await
                    .expect("earlier owner steps down");
            }
            let mut tasks = Vec::new();
            for (i, id) in owners.iter().cloned().enumerate() {
                let store = store.clone();
                let org = org.id.clone();
                tasks.push(tokio::spawn(async move {
                    let change = if i % 2 == 0 {
                        MemberChange::Role(Role::Member)
                    } else {
                        MemberChange::Disabled(true)
                    };
                    store.change_member(Some(&org), &id, &change, t0()).await
                }));
            }
            let mut refused = 0;
            for t in tasks {
                match t.await.expect("join") {
                    Ok(_) => {}
                    Err(Error::Conflict(m)) => {
                        assert!(m.contains("last active owner"), "{m}");
                        refused += 1;
                    }
                    Err(e) => panic!("unexpected error: {e}"),
                }
            }
            assert_eq!(refused, 1, "exactly one change is refused");
            assert_eq!(
                store.count_active_owners(&org.id).await.expect("count"),
                1,
                "one active owner remains, never zero"
            );
        }
        // Two owners demoting each other at once leave one.
        let a = actor_in(&core, "pair-a", Role::Owner, Some("acme")).await;
        let b = actor_in(&core, "pair-b", Role::Owner, Some("acme")).await;
        for m in store
            .list_members(
                &org.id,
                &MemberFilter {
                    role: Some(Role::Owner),
                    disabled: Some(false),
                },
                &page(),
            )
            .await
            .expect("list")
        {
            if m.account.id != a.user.id && m.account.id != b.user.id {
                store
                    .change_member(None, &m.account.id, &MemberChange::Role(Role::Admin), t0())
                    .await
                    .expect("step down");
            }
        }
        let (ra, rb) = tokio::join!(
            core.change_member_role(&a, &b.user.id, Role::Member),
            core.change_member_role(&b, &a.user.id, Role::Member),
        );
        assert!(
            ra.is_ok() != rb.is_ok(),
            "one demotion wins: {:?} / {:?}",
            ra.err(),
            rb.err()
        );
        assert_eq!(store.count_active_owners(&org.id).await.expect("count"), 1);
    }
);

conformance!(
    the_last_owner_cannot_leave_be_demoted_or_be_disabled,
    |store: Arc<dyn Store>| async move {
        let (core, _) = core_with(store.clone());
        core.create_org("solo", Edition::Team).await.expect("org");
        core.create_org("elsewhere", Edition::Team)
            .await
            .expect("org");
        let owner = actor_in(&core, "solo-owner", Role::Owner, Some("solo")).await;
        for change in [
            MemberChange::Role(Role::Admin),
            MemberChange::Disabled(true),
            MemberChange::MoveTo(core.org_named("elsewhere").await.expect("org").id),
        ] {
            let err = store
                .change_member(None, &owner.user.id, &change, t0())
                .await
                .expect_err("refused");
            assert!(matches!(err, Error::Conflict(_)), "{change:?}: {err}");
        }
        let fresh = store
            .account_by_id(&owner.user.id)
            .await
            .expect("q")
            .expect("there");
        assert_eq!(fresh.user.role, Role::Owner);
        assert!(!fresh.user.disabled);
        assert_eq!(
            fresh.user.org_id, owner.user.org_id,
            "nothing was half-written"
        );
        // With a second owner, the first may go; moving makes them a member there.
        actor_in(&core, "solo-second", Role::Owner, Some("solo")).await;
        let moved = core
            .move_account("solo-owner", "elsewhere")
            .await
            .expect("move");
        assert_eq!(moved.role, Role::Member);
        assert_eq!(
            moved.org_id,
            core.org_named("elsewhere").await.expect("org").id
        );
    }
);

conformance!(
    members_and_keys_of_another_organisation_are_not_found_in_the_store_queries,
    |store: Arc<dyn Store>| async move {
        let (core, _) = core_with(store.clone());
        let a = core
            .create_org("org-a", Edition::Enterprise)
            .await
            .expect("org");
        let b = core
            .create_org("org-b", Edition::Enterprise)
            .await
            .expect("org");
        let admin_a = actor_in(&core, "admin-a", Role::Owner, Some("org-a")).await;
        let admin_b = actor_in(&core, "admin-b", Role::Owner, Some("org-b")).await;
        let bob_b = actor_in(&core, "bob-b", Role::Member, Some("org-b")).await;
        let (bobs_key, _) = core
            .create_api_key(
                &bob_b,
                NewApiKey {
                    name: "bob's",
                    expiration: None,
                    permissions: None,
                },
            )
            .await
            .expect("key");
        let (b_public, _) = core
            .create_public_api_key(
                &admin_b,
                NewOrgKey {
                    name: "b ci",
                    permissions: &["org:members:read".into()],
                    expiration: None,
                },
            )
            .await
            .expect("public key");

        assert!(
            store
                .member(&a.id, &bob_b.user.id)
                .await
                .expect("q")
                .is_none()
        );
        assert!(
            store
                .member(&b.id, &bob_b.user.id)
                .await
                .expect("q")
                .is_some()
        );
        assert!(matches!(
            store
                .change_member(
                    Some(&a.id),
                    &bob_b.user.id,
                    &MemberChange::Disabled(true),
                    t0()
                )
                .await,
            Err(Error::NotFound)
        ));
        let names: Vec<String> = store
            .list_members(&a.id, &MemberFilter::default(), &page())
            .await
            .expect("list")
            .into_iter()
            .map(|m| m.account.username)
            .collect();
        assert_eq!(
            names,
            ["admin-a"],
            "only org A's people; never its principal"
        );
        for id in [&bobs_key.id, &b_public.key.id] {
            assert!(store.org_key(&a.id, id).await.expect("q").is_none());
            assert!(
                !store
                    .set_org_key_enabled(&a.id, id, false, t0())
                    .await
                    .expect("q")
            );
            assert_eq!(
                store
                    .delete_org_key(&a.id, id, false, t0())
                    .await
                    .expect("q"),
                OrgKeyDeleted::NotFound
            );
            assert!(
                store
                    .org_key(&b.id, id)
                    .await
                    .expect("q")
                    .expect("still there")
                    .key
                    .enabled
            );
        }
        assert!(
            store
                .list_org_keys(&a.id, &OrgKeyFilter::default(), &page())
                .await
                .expect("q")
                .is_empty()
        );
        assert_eq!(
            store
                .list_org_keys(&b.id, &OrgKeyFilter::default(), &page())
                .await
                .expect("q")
                .len(),
            2
        );

        // The use cases answer the same: 404, and nothing changes.
        assert!(matches!(
            core.get_member(&admin_a, &bob_b.user.id).await,
            Err(Error::NotFound)
        ));
        assert!(matches!(
            core.set_member_disabled(&admin_a, &bob_b.user.id, true)
                .await,
            Err(Error::NotFound)
        ));
        assert!(matches!(
            core.change_member_role(&admin_a, &bob_b.user.id, Role::Admin)
                .await,
            Err(Error::NotFound)
        ));
        assert!(matches!(
            core.reset_member_mfa(&admin_a, &bob_b.user.id, "test")
                .await,
            Err(Error::NotFound)
        ));
        assert!(matches!(
            core.set_org_key_enabled(&admin_a, &bobs_key.id, false)
                .await,
            Err(Error::NotFound)
        ));
        assert!(matches!(
            core.delete_org_key(&admin_a, &b_public.key.id).await,
            Err(Error::NotFound)
        ));
        assert!(matches!(
            core.duplicate_public_api_key(&admin_a, &b_public.key.id, None, None, None)
                .await,
            Err(Error::NotFound)
        ));
        let bob_now = store
            .account_by_id(&bob_b.user.id)
            .await
            .expect("q")
            .expect("there");
        assert!(!bob_now.user.disabled && bob_now.user.role == Role::Member);

        // A member holds no organisation scope.
        assert!(matches!(
            core.list_members(&bob_b, &MemberFilter::default(), &page())
                .await,
            Err(Error::InsufficientPermissions(_))
        ));
        assert!(matches!(
            core.list_org_keys(&bob_b, &OrgKeyFilter::default(), &page())
                .await,
            Err(Error::InsufficientPermissions(_))
        ));
    }
);

conformance!(
    organisation_keys_follow_the_documented_rules,
    |store: Arc<dyn Store>| async move {
        let (core, _) = core_with(store.clone());
        core.create_org("teamco", Edition::Team).await.expect("org");
        let owner = actor_in(&core, "team-owner", Role::Owner, Some("teamco")).await;
        let alice = actor_in(&core, "team-alice", Role::Member, Some("teamco")).await;
        core.add_ssh_key(&alice, "laptop", ED25519_PUB)
            .await
            .expect("ssh key");

        // Team edition: no Public API Keys, but the Team Computer Key.
        let err = core
            .create_public_api_key(
                &owner,
                NewOrgKey {
                    name: "ci",
                    permissions: &["org:keys:read".into()],
                    expiration: None,
                },
            )
            .await
            .expect_err("team edition");
        assert!(
            matches!(err, Error::Forbidden(ref m) if m.contains("Enterprise Level Feature")),
            "{err}"
        );
        let (tck, tck_secret) = core.create_team_computer_key(&owner).await.expect("tck");
        assert_eq!(tck.key.kind, ApiKeyKind::TeamComputer);
        assert_eq!(tck.key.created_by, "team-owner");
        assert!(
            matches!(
                core.create_team_computer_key(&owner).await,
                Err(Error::Conflict(_))
            ),
            "one per organisation"
        );

        // The Team Computer Key reads its own organisation's members' SSH keys only.
        let machine = core
            .authenticate_api_key(tck_secret.expose(), ctx())
            .await
            .expect("auth");
        let actor = core.key_actor(&machine);
        let (_, keys) = core
            .authorized_keys(&actor, "team-alice")
            .await
            .expect("keys");
        assert_eq!(keys.len(), 1);
        core.create_org("other", Edition::Team).await.expect("org");
        let stranger = actor_in(&core, "stranger", Role::Owner, Some("other")).await;
        core.add_ssh_key(&stranger, "laptop", ECDSA_PUB)
            .await
            .expect("ssh key");
        let (_, none) = core
            .authorized_keys(&actor, "stranger")
            .await
            .expect("answer");
        assert!(
            none.is_empty(),
            "another organisation's member has no keys here"
        );
        assert!(
            matches!(
                core.list_members(&actor, &MemberFilter::default(), &page())
                    .await,
                Err(Error::InsufficientPermissions(_))
            ),
            "the Team Computer Key does nothing else"
        );

        // Deleting an organisation key takes disabling it first.
        assert!(
            matches!(core.delete_org_key(&owner, &tck.key.id).await, Err(Error::Conflict(ref m)) if m.contains("disable"))
        );
        core.set_org_key_enabled(&owner, &tck.key.id, false)
            .await
            .expect("disable");
        assert!(
            core.authenticate_api_key(tck_secret.expose(), ctx())
                .await
                .is_err(),
            "disabled at once"
        );
        core.delete_org_key(&owner, &tck.key.id)
            .await
            .expect("delete");
        core.create_team_computer_key(&owner)
            .await
            .expect("recreate after delete");

        // The SCIM key: regenerating revokes the old one at once.
        let (_, scim1) = core.regenerate_scim_key(&owner).await.expect("scim");
        assert!(
            core.authenticate_api_key(scim1.expose(), ctx())
                .await
                .is_ok()
        );
        let (scim2_rec, scim2) = core.regenerate_scim_key(&owner).await.expect("scim again");
        assert!(
            core.authenticate_api_key(scim1.expose(), ctx())
                .await
                .is_err(),
            "the old SCIM key is dead"
        );
        let p = core
            .authenticate_api_key(scim2.expose(), ctx())
            .await
            .expect("new works");
        assert_eq!(p.permissions().to_space_separated(), "scim:provision");
        let scim_keys = core
            .list_org_keys(
                &owner,
                &OrgKeyFilter {
                    kind: Some(ApiKeyKind::Scim),
                    ..Default::default()
                },
                &page(),
            )
            .await
            .expect("list");
        assert_eq!(scim_keys.items.len(), 1);
        assert_eq!(scim_keys.items[0].key.id, scim2_rec.key.id);

        // Enterprise: Public API Keys with organisation scopes, duplicated with adjusted
        // permissions, surviving their creator.
        core.set_org_edition("teamco", Edition::Enterprise)
            .await
            .expect("edition");
        let (public, secret) = core
            .create_public_api_key(
                &owner,
                NewOrgKey {
                    name: "ci",
                    permissions: &["org:members:read".into(), "org:keys:read".into()],
                    expiration: None,
                },
            )
            .await
            .expect("public");
        let key_actor = core.key_actor(
            &core
                .authenticate_api_key(secret.expose(), ctx())
                .await
                .expect("auth"),
        );
        let members = core
            .list_members(&key_actor, &MemberFilter::default(), &page())
            .await
            .expect("members");
        assert_eq!(members.items.len(), 2);
        assert!(matches!(
            core.set_member_disabled(&key_actor, &alice.user.id, true)
                .await,
            Err(Error::InsufficientPermissions(_))
        ));
        let (dup, _) = core
            .duplicate_public_api_key(
                &owner,
                &public.key.id,
                Some("ci 2"),
                Some(&["org:members:read".into()]),
                None,
            )
            .await
            .expect("dup");
        assert_eq!(dup.key.permissions.to_space_separated(), "org:members:read");
        let original = core
            .get_org_key(&owner, &public.key.id)
            .await
            .expect("original");
        assert_eq!(
            original.key.permissions.to_space_separated(),
            "org:keys:read org:members:read"
        );
        let second = actor_in(&core, "team-owner2", Role::Owner, Some("teamco")).await;
        core.set_member_disabled(&second, &owner.user.id, true)
            .await
            .expect("creator leaves");
        assert!(
            core.authenticate_api_key(secret.expose(), ctx())
                .await
                .is_ok(),
            "the organisation's key outlives its creator"
        );
        assert!(matches!(
            core.create_public_api_key(
                &alice,
                NewOrgKey {
                    name: "x",
                    permissions: &["org:keys:read".into()],
                    expiration: None
                }
            )
            .await,
            Err(Error::InsufficientPermissions(_))
        ));

        // Admins disable and delete members' own keys.
        let (alices_key, alices_secret) = core
            .create_api_key(
                &alice,
                NewApiKey {
                    name: "laptop",
                    expiration: None,
                    permissions: None,
                },
            )
            .await
            .expect("key");
        core.set_org_key_enabled(&second, &alices_key.id, false)
            .await
            .expect("disable member key");
        assert!(
            core.authenticate_api_key(alices_secret.expose(), ctx())
                .await
                .is_err()
        );
        core.delete_org_key(&second, &alices_key.id)
            .await
            .expect("delete member key");
        assert!(core.get_api_key(&alice, &alices_key.id).await.is_err());
    }
);
