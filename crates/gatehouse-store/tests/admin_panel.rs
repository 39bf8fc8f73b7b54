//! The admin panel's store work on both backends: a new member's set-password link (once,
//! until it expires, only in its organisation), and the organisation's audit log (scoped,
//! filtered, and paged newest first without repeats, records of one second included).

use std::sync::Arc;

use gatehouse_core::Core;
use gatehouse_core::Error;
use gatehouse_core::actor::Actor;
use gatehouse_core::clock::Clock;
use gatehouse_core::org::{Edition, Role};
use gatehouse_core::page::PageRequest;
use gatehouse_core::service::{AuditQuery, NewMember};
use gatehouse_core::store::{AuditFilter, Store};

mod common;
use common::*;

async fn owner_of(core: &Core, name: &str, org: &str) -> Arc<Actor> {
    core.create_org(org, Edition::Enterprise)
        .await
        .expect("org");
    actor_in(core, name, Role::Owner, Some(org)).await
}

fn newbie(name: &str) -> NewMember<'_> {
    NewMember {
        username: name,
        email: "n@example.org",
        display_name: None,
        role: Role::Member,
    }
}

conformance!(
    a_set_password_link_works_once_until_it_expires_and_only_in_its_organisation,
    |store: Arc<dyn Store>| async move {
        let (core, clock) = core_with(store.clone());
        let a = owner_of(&core, "owner-a", "acme").await;
        let b = owner_of(&core, "owner-b", "globex").await;
        let (member, link) = core
            .create_member(&a, newbie("newbie"))
            .await
            .expect("create");
        let secret = link.secret.expose().to_owned();
        assert!(
            core.login(attempt("newbie", PW)).await.is_err(),
            "no password yet"
        );
        // Another organisation's owner cannot reissue it.
        let err = core
            .reissue_password_link(&b, &member.account.id)
            .await
            .expect_err("foreign");
        assert!(matches!(err, Error::NotFound), "{err:?}");
        // Two redemptions at once: exactly one sets the password.
        let (r1, r2) = tokio::join!(
            core.redeem_password_link(&secret, PW),
            core.redeem_password_link(&secret, "another long passphrase")
        );
        assert_eq!(
            [r1.is_ok(), r2.is_ok()].iter().filter(|ok| **ok).count(),
            1,
            "{r1:?} {r2:?}"
        );
        let chosen = if r1.is_ok() {
            PW
        } else {
            "another long passphrase"
        };
        assert!(core.login(attempt("newbie", chosen)).await.is_ok());
        assert!(
            core.redeem_password_link(&secret, PW).await.is_err(),
            "used"
        );

        // A reissued link replaces the first; an expired one opens nothing.
        let (later, first) = core
            .create_member(&a, newbie("later"))
            .await
            .expect("create");
        let second = core
            .reissue_password_link(&a, &later.account.id)
            .await
            .expect("reissue");
        assert!(
            core.redeem_password_link(first.secret.expose(), PW)
                .await
                .is_err()
        );
        clock.advance(time::Duration::hours(73));
        assert!(
            core.redeem_password_link(second.secret.expose(), PW)
                .await
                .is_err()
        );
        assert!(core.login(attempt("later", PW)).await.is_err());
        assert_eq!(
            store
                .delete_expired_password_links(clock.now())
                .await
                .expect("sweep"),
            1,
            "the cleanup removes the expired link"
        );
        // A member with a password gets no link.
        let err = core
            .reissue_password_link(&a, &member.account.id)
            .await
            .expect_err("has a password");
        assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    }
);

conformance!(
    the_audit_log_is_scoped_filtered_and_paged_newest_first_without_repeats,
    |store: Arc<dyn Store>| async move {
        let (core, _) = core_with(store.clone());
        let a = owner_of(&core, "owner-a", "acme").await;
        let b = owner_of(&core, "owner-b", "globex").await;
        // Many records in the same second, so the id breaks the ties.
        for i in 0..7 {
            core.create_member(&a, newbie(&format!("m{i}")))
                .await
                .expect("create");
        }
        core.create_member(&b, newbie("other"))
            .await
            .expect("create");
        let all = |actor: Arc<Actor>, filter: AuditFilter| {
            let core = &core;
            async move {
                let mut out = Vec::new();
                let mut page = PageRequest::first(3);
                loop {
                    let p = core.org_audit(&actor, &filter, &page).await.expect("page");
                    out.extend(p.items);
                    match p.next {
                        Some(c) => page = PageRequest::parse(Some("3"), Some(&c)).expect("cursor"),
                        None => return out,
                    }
                }
            }
        };
        let mine = all(a.clone(), AuditFilter::default()).await;
        let ids: std::collections::HashSet<_> = mine.iter().map(|e| e.id.0.clone()).collect();
        assert_eq!(ids.len(), mine.len(), "no repeats");
        assert!(
            mine.windows(2)
                .all(|w| (w[0].at, &w[0].id.0) >= (w[1].at, &w[1].id.0))
        );
        assert!(
            mine.iter().all(|e| e.username.as_deref() != Some("other")),
            "scoped"
        );
        let created = all(
            a.clone(),
            AuditQuery {
                action: Some("member."),
                ..Default::default()
            }
            .parse()
            .expect("f"),
        )
        .await;
        assert_eq!(created.len(), 7, "{created:?}");
        let exact = all(
            a.clone(),
            AuditQuery {
                action: Some("member"),
                ..Default::default()
            }
            .parse()
            .expect("f"),
        )
        .await;
        assert!(exact.is_empty(), "an exact action is not a prefix");
        let by_b = all(
            a.clone(),
            AuditQuery {
                actor: Some("owner-b"),
                ..Default::default()
            }
            .parse()
            .expect("f"),
        )
        .await;
        assert!(
            by_b.is_empty(),
            "another organisation's actor is nobody here"
        );
        let theirs = all(b.clone(), AuditFilter::default()).await;
        assert!(
            theirs
                .iter()
                .any(|e| e.username.as_deref() == Some("other"))
        );
        assert!(theirs.iter().all(|e| !ids.contains(&e.id.0)));
        // Without org:audit:read, nothing.
        let member = {
            let (m, l) = core
                .create_member(&a, newbie("plain"))
                .await
                .expect("create");
            core.redeem_password_link(l.secret.expose(), PW)
                .await
                .expect("set");
            let s = core
                .login(attempt(&m.account.username, PW))
                .await
                .expect("login")
                .into_session()
                .expect("session");
            core.session_actor(&s.principal)
        };
        let err = core
            .org_audit(&member, &AuditFilter::default(), &PageRequest::first(10))
            .await
            .expect_err("member");
        assert!(matches!(err, Error::InsufficientPermissions(_)), "{err:?}");
    }
);
