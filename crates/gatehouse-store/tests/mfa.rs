//! 2-step verification over a real store (SQLite and PostgreSQL): enrolment, the second
//! sign-in step, single use of codes (also under concurrency), the per-account count of
//! wrong codes, expiry of pending sign-ins and enrolments, re-authentication, the
//! `require_mfa` policy, sealed seeds and operator recovery.

use std::sync::Arc;

use gatehouse_core::Core;
use gatehouse_core::Error;
use gatehouse_core::clock::{Clock, ManualClock};
use gatehouse_core::mfa::{Amr, RecoveryCode, TotpSecret, TotpVerifier};
use gatehouse_core::org::OrgPolicy;
use gatehouse_core::secrecy::ExposeSecret;
use gatehouse_core::secret::TokenHash;
use gatehouse_core::service::{
    LoginStep, MfaLoginAttempt, NewAccount, Proof, SecondFactor, TotpConfirmed,
};
use gatehouse_core::session::LoginOutcome;
use gatehouse_core::store::Store;
use time::Duration;

mod common;
use common::*;

async fn account(core: &Core, name: &str) {
    core.create_account(NewAccount {
        username: name,
        email: "x@example.org",
        display_name: None,
        password: PW,
        role: gatehouse_core::org::Role::Member,
        org: None,
    })
    .await
    .expect("create");
}

async fn password_step(core: &Core, name: &str) -> LoginStep {
    core.login(attempt(name, PW)).await.expect("password step")
}

async fn signed_in(core: &Core, name: &str) -> LoginOutcome {
    password_step(core, name)
        .await
        .into_session()
        .expect("no second step")
}

/// The pending credential of a sign-in that must ask for a code.
async fn pending(core: &Core, name: &str) -> String {
    match password_step(core, name).await {
        LoginStep::MfaRequired(c) => {
            assert_eq!(c.methods, ["totp", "recovery_code"]);
            assert_eq!(c.expires_in, 300);
            c.token.expose().to_owned()
        }
        LoginStep::Done(_) => panic!("expected a second step"),
    }
}

fn second<'a>(pending: &'a str, factor: SecondFactor<'a>) -> MfaLoginAttempt<'a> {
    MfaLoginAttempt {
        pending,
        factor,
        ip: None,
        user_agent: None,
        previous_session: None,
    }
}

struct Enrolled {
    verifier: TotpVerifier,
    secret_base32: String,
    session: LoginOutcome,
    codes: Vec<RecoveryCode>,
}

/// Creates `name`, signs in and turns on 2-step verification with an authenticator app;
/// the clock then moves to the next step, so the next code is fresh.
async fn enrolled(core: &Core, clock: &ManualClock, name: &str) -> Enrolled {
    account(core, name).await;
    let s = signed_in(core, name).await;
    let e = core.start_totp(&s.principal).await.expect("start");
    assert!(
        e.uri
            .expose_secret()
            .starts_with("otpauth://totp/Gatehouse:")
    );
    let secret = TotpSecret::from_base32(e.secret.expose_secret()).expect("base32");
    let verifier = TotpVerifier::new(&secret, "Gatehouse", name).expect("verifier");
    let TotpConfirmed {
        session,
        recovery_codes,
    } = core
        .confirm_totp(
            &s.principal,
            s.token.expose(),
            Some(&e.factor_id),
            &verifier.code_at(clock.now()),
            None,
            None,
        )
        .await
        .expect("confirm");
    clock.advance(Duration::seconds(30));
    Enrolled {
        verifier,
        secret_base32: e.secret.expose_secret().replace(' ', ""),
        session,
        codes: recovery_codes.expect("first factor brings codes"),
    }
}

async fn ready(store: Arc<dyn Store>) -> (Arc<Core>, Arc<ManualClock>) {
    let (core, clock) = core_with(store);
    (Arc::new(core), clock)
}

conformance!(
    enrolment_turns_2sv_on_and_reissues_the_session,
    |store: Arc<dyn Store>| async move {
        let (core, clock) = ready(store.clone()).await;
        account(&core, "ann").await;
        let s = signed_in(&core, "ann").await;
        assert_eq!(s.principal.amr, Amr::PASSWORD);
        let e = core.start_totp(&s.principal).await.expect("start");
        let secret = TotpSecret::from_base32(e.secret.expose_secret()).expect("base32");
        let v = TotpVerifier::new(&secret, "Gatehouse", "ann").expect("v");
        // A wrong first code is refused with a message, and nothing is turned on.
        match core
            .confirm_totp(&s.principal, s.token.expose(), None, "000000", None, None)
            .await
        {
            Err(Error::Invalid { field: "code", .. }) => {}
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(
            !core
                .mfa_status(&s.principal.user)
                .await
                .expect("status")
                .enabled
        );
        let done = core
            .confirm_totp(
                &s.principal,
                s.token.expose(),
                None,
                &v.code_at(clock.now()),
                None,
                None,
            )
            .await
            .expect("confirm");
        let codes = done.recovery_codes.expect("codes");
        assert_eq!(codes.len(), 10);
        // The old session ended; the new one records the second factor.
        assert!(core.authenticate_session(s.token.expose()).await.is_err());
        let again = core
            .authenticate_session(done.session.token.expose())
            .await
            .expect("new session");
        assert!(again.amr.otp && again.amr.pwd);
        let stored = store
            .session_by_hash(&TokenHash::of(done.session.token.expose()))
            .await
            .expect("q")
            .expect("row");
        assert_eq!(stored.amr.to_stored(), "pwd,otp");
        let status = core.mfa_status(&s.principal.user).await.expect("status");
        assert!(status.enabled);
        assert_eq!(status.factors.len(), 1);
        assert_eq!(status.recovery_codes_left, 10);
        // One authenticator app at a time.
        assert!(matches!(
            core.start_totp(&done.session.principal).await,
            Err(Error::Conflict(_))
        ));
    }
);

conformance!(the_seed_is_sealed_to_its_factor_and_owner, |store: Arc<
    dyn Store,
>| async move {
    let (core, clock) = ready(store.clone()).await;
    let a = enrolled(&core, &clock, "amy").await;
    let amy = a.session.principal.user.id.clone();
    let rows = store.mfa_factors(&amy).await.expect("factors");
    let sealed = rows[0].sealed_secret.clone().expect("sealed");
    assert!(
        !sealed.contains(&a.secret_base32),
        "no plaintext seed in the store"
    );
    // Amy's sealed seed copied onto Bob's factor does not open there.
    account(&core, "bob").await;
    let b = signed_in(&core, "bob").await;
    let bob = b.principal.user.id.clone();
    let mut copy = rows[0].clone();
    copy.id = gatehouse_core::ids::MfaFactorId::generate();
    copy.user_id = bob.clone();
    copy.confirmed_at = None;
    copy.last_step = -1;
    store.insert_pending_factor(&copy).await.expect("insert");
    assert!(
        store
            .confirm_factor(
                &bob,
                &copy.id,
                1,
                clock.now() - Duration::days(1),
                clock.now(),
                None
            )
            .await
            .expect("confirm")
    );
    let p = pending(&core, "bob").await;
    let code = a.verifier.code_at(clock.now());
    assert!(
        core.login_mfa(second(&p, SecondFactor::Code(&code)))
            .await
            .is_err(),
        "a seed moved to another account must not verify"
    );
});

conformance!(
    sign_in_asks_for_a_code_and_each_code_works_once,
    |store: Arc<dyn Store>| async move {
        let (core, clock) = ready(store.clone()).await;
        let e = enrolled(&core, &clock, "cat").await;
        let p = pending(&core, "cat").await;
        // The pending credential is not a session.
        assert!(matches!(
            core.authenticate_session(&p).await,
            Err(Error::Unauthenticated)
        ));
        assert!(matches!(
            core.login_mfa(second(&p, SecondFactor::Code("123 45")))
                .await,
            Err(Error::InvalidCode)
        ));
        let code = e.verifier.code_at(clock.now());
        let s = core
            .login_mfa(second(&p, SecondFactor::Code(&code)))
            .await
            .expect("second step");
        assert_eq!(s.principal.amr.values(), ["pwd", "otp", "mfa"]);
        // The pending credential was single-use.
        assert!(matches!(
            core.login_mfa(second(&p, SecondFactor::Code(&code))).await,
            Err(Error::Unauthenticated)
        ));
        // The same code in a new sign-in is a replay, refused and audited.
        let p2 = pending(&core, "cat").await;
        assert!(matches!(
            core.login_mfa(second(&p2, SecondFactor::Code(&code))).await,
            Err(Error::InvalidCode)
        ));
        // So is the previous step's code once the current one was used.
        let older = e.verifier.code_at(clock.now() - Duration::seconds(30));
        assert!(matches!(
            core.login_mfa(second(&p2, SecondFactor::Code(&older)))
                .await,
            Err(Error::InvalidCode)
        ));
        let audit = core.recent_audit(None, 50).await.expect("audit");
        assert!(audit.iter().any(|a| a.action == "mfa.code_replayed"));
        // A future step is refused; the next step, once it comes, is accepted.
        let next = e.verifier.code_at(clock.now() + Duration::seconds(30));
        assert!(matches!(
            core.login_mfa(second(&p2, SecondFactor::Code(&next))).await,
            Err(Error::InvalidCode)
        ));
        clock.advance(Duration::seconds(30));
        core.login_mfa(second(&p2, SecondFactor::Code(&next)))
            .await
            .expect("next step");
    }
);

conformance!(
    the_previous_step_is_accepted_and_two_steps_back_is_not,
    |store: Arc<dyn Store>| async move {
        let (core, clock) = ready(store).await;
        let e = enrolled(&core, &clock, "dan").await;
        clock.advance(Duration::seconds(60));
        let p = pending(&core, "dan").await;
        let two_back = e.verifier.code_at(clock.now() - Duration::seconds(60));
        assert!(matches!(
            core.login_mfa(second(&p, SecondFactor::Code(&two_back)))
                .await,
            Err(Error::InvalidCode)
        ));
        let one_back = e.verifier.code_at(clock.now() - Duration::seconds(30));
        core.login_mfa(second(&p, SecondFactor::Code(&one_back)))
            .await
            .expect("previous step");
    }
);

conformance!(
    concurrent_uses_of_one_code_give_one_session,
    |store: Arc<dyn Store>| async move {
        let (core, clock) = ready(store.clone()).await;
        let e = enrolled(&core, &clock, "eve").await;
        let code = e.verifier.code_at(clock.now());
        let mut pendings = Vec::new();
        for _ in 0..8 {
            pendings.push(pending(&core, "eve").await);
        }
        let tasks: Vec<_> = pendings
            .into_iter()
            .map(|p| {
                let core = core.clone();
                let code = code.clone();
                tokio::spawn(async move {
                    core.login_mfa(second(&p, SecondFactor::Code(&code)))
                        .await
                        .is_ok()
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            ok += usize::from(t.await.expect("join"));
        }
        assert_eq!(ok, 1, "one code, one session");
        // And straight at the store: one compare-and-set wins.
        let user = e.session.principal.user.id.clone();
        let factor = store.mfa_factors(&user).await.expect("f")[0].id.clone();
        let step = clock.now().unix_timestamp() / 30 + 5;
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let store = store.clone();
                let (user, factor) = (user.clone(), factor.clone());
                let now = clock.now();
                tokio::spawn(async move {
                    store
                        .advance_totp_step(&user, &factor, step, now)
                        .await
                        .expect("cas")
                })
            })
            .collect();
        let mut won = 0;
        for t in tasks {
            won += usize::from(t.await.expect("join"));
        }
        assert_eq!(won, 1);
        assert!(
            !store
                .advance_totp_step(&user, &factor, step - 1, clock.now())
                .await
                .expect("older")
        );
    }
);

conformance!(
    a_recovery_code_signs_in_once_even_thirty_times_at_once,
    |store: Arc<dyn Store>| async move {
        let (core, clock) = ready(store).await;
        let e = enrolled(&core, &clock, "fay").await;
        let code = e.codes[0].expose().to_lowercase().replace('-', " ");
        let mut pendings = Vec::new();
        for _ in 0..30 {
            pendings.push(pending(&core, "fay").await);
        }
        let tasks: Vec<_> = pendings
            .into_iter()
            .map(|p| {
                let core = core.clone();
                let code = code.clone();
                tokio::spawn(async move {
                    core.login_mfa(second(&p, SecondFactor::RecoveryCode(&code)))
                        .await
                        .ok()
                })
            })
            .collect();
        let mut sessions = Vec::new();
        for t in tasks {
            if let Some(s) = t.await.expect("join") {
                sessions.push(s);
            }
        }
        assert_eq!(sessions.len(), 1, "one recovery code, one session");
        assert_eq!(
            sessions[0].principal.amr.values(),
            ["pwd", "recovery", "mfa"]
        );
        let status = core
            .mfa_status(&e.session.principal.user)
            .await
            .expect("status");
        assert_eq!(status.recovery_codes_left, 9);
        let audit = core.recent_audit(None, 100).await.expect("audit");
        assert!(audit.iter().any(|a| a.action == "mfa.recovery_code_used"));
    }
);

conformance!(
    wrong_codes_count_per_account_across_sign_ins,
    |store: Arc<dyn Store>| async move {
        let (core, clock) = ready(store).await;
        let e = enrolled(&core, &clock, "gus").await;
        // Five failures are free (the password policy's), spread over two sign-ins.
        let p1 = pending(&core, "gus").await;
        for _ in 0..3 {
            assert!(matches!(
                core.login_mfa(second(&p1, SecondFactor::Code("000000")))
                    .await,
                Err(Error::InvalidCode)
            ));
        }
        let p2 = pending(&core, "gus").await;
        for _ in 0..2 {
            assert!(matches!(
                core.login_mfa(second(
                    &p2,
                    SecondFactor::RecoveryCode("AAAA-BBBB-CCCC-DDDD")
                ))
                .await,
                Err(Error::InvalidCode)
            ));
        }
        // Entering the password again did not reset the count: the right code waits too.
        let p3 = pending(&core, "gus").await;
        let code = e.verifier.code_at(clock.now());
        match core.login_mfa(second(&p3, SecondFactor::Code(&code))).await {
            Err(Error::RateLimited { retry_after, .. }) => assert!(retry_after >= 1),
            other => panic!("expected a backoff, got {other:?}"),
        }
        clock.advance(Duration::seconds(31));
        let code = e.verifier.code_at(clock.now());
        core.login_mfa(second(&p3, SecondFactor::Code(&code)))
            .await
            .expect("after the backoff");
    }
);

conformance!(
    a_pending_sign_in_takes_five_wrong_codes_and_lasts_five_minutes,
    |store: Arc<dyn Store>| async move {
        let (core, clock) = ready(store).await;
        let e = enrolled(&core, &clock, "hal").await;
        let p = pending(&core, "hal").await;
        for _ in 0..5 {
            let _ = core
                .login_mfa(second(&p, SecondFactor::Code("999999")))
                .await;
            clock.advance(Duration::minutes(2));
        }
        let code = e.verifier.code_at(clock.now());
        assert!(matches!(
            core.login_mfa(second(&p, SecondFactor::Code(&code))).await,
            Err(Error::Unauthenticated)
        ));
        clock.advance(Duration::hours(2));
        let p = pending(&core, "hal").await;
        clock.advance(Duration::minutes(5) + Duration::seconds(1));
        let code = e.verifier.code_at(clock.now());
        assert!(matches!(
            core.login_mfa(second(&p, SecondFactor::Code(&code))).await,
            Err(Error::Unauthenticated)
        ));
    }
);

conformance!(
    factor_changes_need_a_recent_reauthentication,
    |store: Arc<dyn Store>| async move {
        let (core, clock) = ready(store).await;
        let e = enrolled(&core, &clock, "ivy").await;
        clock.advance(Duration::minutes(11));
        let s = core
            .authenticate_session(e.session.token.expose())
            .await
            .expect("still signed in");
        let factor = core.mfa_status(&s.user).await.expect("status").factors[0]
            .id
            .clone();
        assert!(matches!(
            core.remove_factor(&s, gatehouse_core::mfa::FactorKind::Totp, &factor)
                .await,
            Err(Error::ReauthenticationRequired)
        ));
        assert!(matches!(
            core.turn_off_mfa(&s).await,
            Err(Error::ReauthenticationRequired)
        ));
        assert!(matches!(
            core.regenerate_recovery_codes(&s).await,
            Err(Error::ReauthenticationRequired)
        ));
        // A wrong password is refused; the right one re-issues the session.
        assert!(matches!(
            core.reauthenticate(
                &s,
                e.session.token.expose(),
                Proof::Password("nope nope nope"),
                None,
                None
            )
            .await,
            Err(Error::Invalid {
                field: "password",
                ..
            })
        ));
        let r = core
            .reauthenticate(
                &s,
                e.session.token.expose(),
                Proof::Password(PW),
                None,
                None,
            )
            .await
            .expect("reauth");
        assert!(
            core.authenticate_session(e.session.token.expose())
                .await
                .is_err()
        );
        let old_codes = e.codes;
        let new_codes = core
            .regenerate_recovery_codes(&r.principal)
            .await
            .expect("regenerate");
        assert_eq!(new_codes.len(), 10);
        // The old set stopped working; the new one works.
        let p = pending(&core, "ivy").await;
        assert!(matches!(
            core.login_mfa(second(
                &p,
                SecondFactor::RecoveryCode(old_codes[1].expose())
            ))
            .await,
            Err(Error::InvalidCode)
        ));
        core.login_mfa(second(
            &p,
            SecondFactor::RecoveryCode(new_codes[1].expose()),
        ))
        .await
        .expect("new code");
        // A current code re-authenticates too.
        clock.advance(Duration::minutes(11));
        let code = e.verifier.code_at(clock.now());
        let r2 = core
            .reauthenticate(
                &r.principal,
                r.token.expose(),
                Proof::Code(&code),
                None,
                None,
            )
            .await
            .expect("reauth with a code");
        core.remove_factor(
            &r2.principal,
            gatehouse_core::mfa::FactorKind::Totp,
            &factor,
        )
        .await
        .expect("remove");
        // The last factor gone, 2-step verification is off and so are its codes.
        let status = core.mfa_status(&r2.principal.user).await.expect("status");
        assert!(!status.enabled);
        assert_eq!(status.recovery_codes_left, 0);
        assert!(password_step(&core, "ivy").await.into_session().is_some());
    }
);

conformance!(
    an_unconfirmed_enrolment_expires_after_ten_minutes,
    |store: Arc<dyn Store>| async move {
        let (core, clock) = ready(store).await;
        account(&core, "jo").await;
        let s = signed_in(&core, "jo").await;
        let e = core.start_totp(&s.principal).await.expect("start");
        let secret = TotpSecret::from_base32(e.secret.expose_secret()).expect("b32");
        let v = TotpVerifier::new(&secret, "Gatehouse", "jo").expect("v");
        clock.advance(Duration::minutes(10) + Duration::seconds(1));
        match core
            .confirm_totp(
                &s.principal,
                s.token.expose(),
                None,
                &v.code_at(clock.now()),
                None,
                None,
            )
            .await
        {
            Err(Error::Invalid {
                field: "code",
                reason,
            }) => {
                assert!(reason.contains("expired"), "{reason}")
            }
            other => panic!("expected expiry, got {other:?}"),
        }
        assert!(password_step(&core, "jo").await.into_session().is_some());
    }
);

conformance!(turning_off_removes_every_factor_and_code, |store: Arc<
    dyn Store,
>| async move {
    let (core, clock) = ready(store).await;
    let e = enrolled(&core, &clock, "kit").await;
    core.turn_off_mfa(&e.session.principal)
        .await
        .expect("turn off");
    let status = core
        .mfa_status(&e.session.principal.user)
        .await
        .expect("status");
    assert!(!status.enabled && status.factors.is_empty());
    assert!(password_step(&core, "kit").await.into_session().is_some());
    let audit = core.recent_audit(None, 50).await.expect("audit");
    assert!(audit.iter().any(|a| a.action == "mfa.turned_off"));
});

conformance!(
    require_mfa_limits_sessions_without_it_to_setup,
    |store: Arc<dyn Store>| async move {
        let (core, clock) = ready(store).await;
        let org = core.default_org().await.expect("org");
        let e = enrolled(&core, &clock, "liz").await;
        core.set_org_policy(
            &org.id,
            &OrgPolicy {
                require_mfa: true,
                ..OrgPolicy::default()
            },
        )
        .await
        .expect("policy");
        account(&core, "max").await;
        let s = signed_in(&core, "max").await;
        assert!(s.principal.mfa_setup_required);
        assert!(
            core.mfa_status(&s.principal.user)
                .await
                .expect("s")
                .required_by_org
        );
        // Setting it up lifts the limit on the re-issued session.
        let en = core.start_totp(&s.principal).await.expect("start");
        let secret = TotpSecret::from_base32(en.secret.expose_secret()).expect("b32");
        let v = TotpVerifier::new(&secret, "Gatehouse", "max").expect("v");
        let done = core
            .confirm_totp(
                &s.principal,
                s.token.expose(),
                None,
                &v.code_at(clock.now()),
                None,
                None,
            )
            .await
            .expect("confirm");
        assert!(!done.session.principal.mfa_setup_required);
        // Members cannot turn it off while the organisation requires it.
        assert!(matches!(
            core.turn_off_mfa(&e.session.principal).await,
            Err(Error::Conflict(_))
        ));
        let factor = core
            .mfa_status(&e.session.principal.user)
            .await
            .expect("s")
            .factors[0]
            .id
            .clone();
        assert!(matches!(
            core.remove_factor(
                &e.session.principal,
                gatehouse_core::mfa::FactorKind::Totp,
                &factor
            )
            .await,
            Err(Error::Conflict(_))
        ));
    }
);

conformance!(
    operator_reset_removes_factors_and_ends_sessions,
    |store: Arc<dyn Store>| async move {
        let (core, clock) = ready(store).await;
        let e = enrolled(&core, &clock, "ned").await;
        assert!(matches!(
            core.reset_mfa("ned", "  ").await,
            Err(Error::Invalid {
                field: "reason",
                ..
            })
        ));
        assert_eq!(
            core.reset_mfa("ned", "lost phone; identity checked by video call")
                .await
                .expect("reset"),
            1
        );
        assert!(
            core.authenticate_session(e.session.token.expose())
                .await
                .is_err()
        );
        assert!(password_step(&core, "ned").await.into_session().is_some());
        let audit = core.recent_audit(None, 50).await.expect("audit");
        let row = audit
            .iter()
            .find(|a| a.action == "mfa.reset_by_operator")
            .expect("audited");
        assert!(row.detail.as_deref().unwrap_or("").contains("video call"));
        assert!(matches!(
            core.reset_mfa("nobody-here", "why").await,
            Err(Error::NotFound)
        ));
    }
);

conformance!(
    wrong_codes_also_count_against_the_client_address,
    |store: Arc<dyn Store>| async move {
        let clock = Arc::new(ManualClock::new(t0()));
        let core = Core::new(
            store,
            clock.clone(),
            gatehouse_core::CoreSettings {
                ip_max_failures: 3,
                ..fast_settings()
            },
        )
        .expect("core")
        .with_master_keys(Arc::new(gatehouse_core::seal::Keyring::single(
            gatehouse_core::seal::MasterKey::generate(),
        )));
        let e = enrolled(&core, &clock, "olga").await;
        let p = pending(&core, "olga").await;
        let from = |factor| MfaLoginAttempt {
            ip: Some([203, 0, 113, 9].into()),
            ..second(&p, factor)
        };
        for _ in 0..3 {
            assert!(matches!(
                core.login_mfa(from(SecondFactor::Code("000000"))).await,
                Err(Error::InvalidCode)
            ));
        }
        // Three failures are within the account's free five, but not the address's three.
        let code = e.verifier.code_at(clock.now());
        match core.login_mfa(from(SecondFactor::Code(&code))).await {
            Err(Error::RateLimited { message, .. }) => {
                assert!(message.contains("address"), "{message}")
            }
            other => panic!("expected the address limit, got {other:?}"),
        }
    }
);

mod webauthn_storage {
    use super::*;
    use gatehouse_core::ids::MfaFactorId;
    use gatehouse_core::mfa::webauthn::{CeremonyKind, CeremonyRecord};
    use gatehouse_core::mfa::{FactorKind, FactorRecord, KeyData};

    fn ceremony(
        token: &str,
        kind: CeremonyKind,
        user: Option<&gatehouse_core::ids::AccountId>,
    ) -> CeremonyRecord {
        CeremonyRecord {
            token_hash: TokenHash::of(token),
            kind,
            user_id: user.cloned(),
            state: "{\"state\":1}".into(),
            created_at: t0(),
            expires_at: t0() + Duration::minutes(5),
        }
    }

    fn key(user: &gatehouse_core::ids::AccountId, credential_id: &str) -> FactorRecord {
        FactorRecord {
            id: MfaFactorId::generate(),
            user_id: user.clone(),
            kind: FactorKind::WebAuthn,
            name: "YubiKey 5C".into(),
            sealed_secret: None,
            created_at: t0(),
            confirmed_at: Some(t0()),
            last_used_at: None,
            last_step: -1,
            key: Some(KeyData {
                credential_id: credential_id.into(),
                credential: "{}".into(),
                discoverable: true,
                sign_count: 0,
            }),
        }
    }

    conformance!(
        ceremonies_are_single_use_of_their_kind_and_expire,
        |store: Arc<dyn Store>| async move {
            let (core, _clock) = ready(store.clone()).await;
            account(&core, "pia").await;
            let pia = signed_in(&core, "pia").await.principal.user.id.clone();
            store
                .insert_ceremony(&ceremony("c1", CeremonyKind::Register, Some(&pia)))
                .await
                .expect("insert");
            // Asked for as another kind, it is refused — and spent.
            assert!(
                store
                    .take_ceremony(&TokenHash::of("c1"), CeremonyKind::SecondStep, t0())
                    .await
                    .expect("q")
                    .is_none()
            );
            assert!(
                store
                    .take_ceremony(&TokenHash::of("c1"), CeremonyKind::Register, t0())
                    .await
                    .expect("q")
                    .is_none()
            );
            // Expired: refused.
            store
                .insert_ceremony(&ceremony("c2", CeremonyKind::Passkey, None))
                .await
                .expect("insert");
            assert!(
                store
                    .take_ceremony(
                        &TokenHash::of("c2"),
                        CeremonyKind::Passkey,
                        t0() + Duration::minutes(5)
                    )
                    .await
                    .expect("q")
                    .is_none()
            );
            // Ten at once: one gets it.
            store
                .insert_ceremony(&ceremony("c3", CeremonyKind::Register, Some(&pia)))
                .await
                .expect("insert");
            let tasks: Vec<_> = (0..10)
                .map(|_| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        store
                            .take_ceremony(&TokenHash::of("c3"), CeremonyKind::Register, t0())
                            .await
                            .expect("take")
                            .is_some()
                    })
                })
                .collect();
            let mut got = 0;
            for t in tasks {
                got += usize::from(t.await.expect("join"));
            }
            assert_eq!(got, 1);
        }
    );

    conformance!(
        a_credential_belongs_to_one_account_and_its_counter_only_rises,
        |store: Arc<dyn Store>| async move {
            let (core, _clock) = ready(store.clone()).await;
            account(&core, "quin").await;
            account(&core, "rhea").await;
            let quin = signed_in(&core, "quin").await.principal.user.id.clone();
            let rhea = signed_in(&core, "rhea").await.principal.user.id.clone();
            let k = key(&quin, "Y3JlZC0x");
            store
                .insert_confirmed_factor(&k, Some(&[TokenHash::of("code")]))
                .await
                .expect("insert");
            assert_eq!(store.recovery_codes_left(&quin).await.expect("codes"), 1);
            assert!(matches!(
                store
                    .insert_confirmed_factor(&key(&rhea, "Y3JlZC0x"), None)
                    .await,
                Err(Error::Conflict(_))
            ));
            let found = store
                .factor_by_credential_id("Y3JlZC0x")
                .await
                .expect("q")
                .expect("found");
            assert_eq!(found.user_id, quin);
            assert!(found.key.expect("key").discoverable);
            // Another account cannot record a use of it.
            assert!(
                !store
                    .record_key_use(&rhea, &k.id, "{}", 5, t0())
                    .await
                    .expect("q")
            );
            assert!(
                store
                    .record_key_use(&quin, &k.id, "{}", 5, t0())
                    .await
                    .expect("q")
            );
            assert!(
                !store
                    .record_key_use(&quin, &k.id, "{}", 5, t0())
                    .await
                    .expect("q")
            );
            assert!(
                !store
                    .record_key_use(&quin, &k.id, "{}", 4, t0())
                    .await
                    .expect("q")
            );
            assert!(
                store
                    .record_key_use(&quin, &k.id, "{}", 6, t0())
                    .await
                    .expect("q")
            );
            // Renaming is scoped to the owner too.
            assert!(!store.rename_factor(&rhea, &k.id, "mine").await.expect("q"));
            assert!(
                store
                    .rename_factor(&quin, &k.id, "Backup key")
                    .await
                    .expect("q")
            );
            // A counter that stays 0 (synced passkeys) keeps working.
            let z = key(&quin, "Y3JlZC0y");
            store
                .insert_confirmed_factor(&z, None)
                .await
                .expect("insert");
            assert!(
                store
                    .record_key_use(&quin, &z.id, "{}", 0, t0())
                    .await
                    .expect("q")
            );
            assert!(
                store
                    .record_key_use(&quin, &z.id, "{}", 0, t0())
                    .await
                    .expect("q")
            );
        }
    );

    conformance!(
        enforce_security_key_leaves_a_totp_sign_in_limited_to_setup,
        |store: Arc<dyn Store>| async move {
            let (core, clock) = ready(store.clone()).await;
            let e = enrolled(&core, &clock, "sol").await;
            let org = core.default_org().await.expect("org");
            core.set_org_policy(
                &org.id,
                &OrgPolicy {
                    enforce_security_key: true,
                    ..OrgPolicy::default()
                },
            )
            .await
            .expect("policy");
            // The code is still asked for, and still not enough.
            let p = pending(&core, "sol").await;
            let code = e.verifier.code_at(clock.now());
            let s = core
                .login_mfa(second(&p, SecondFactor::Code(&code)))
                .await
                .expect("second step");
            assert!(s.principal.mfa_setup_required);
            // A recovery code works for a member who lost their key, with the same limit.
            let p = pending(&core, "sol").await;
            let s = core
                .login_mfa(second(&p, SecondFactor::RecoveryCode(e.codes[0].expose())))
                .await
                .expect("recovery");
            assert!(s.principal.mfa_setup_required);
            let status = core.mfa_status(&s.principal.user).await.expect("status");
            assert!(status.security_key_required_by_org && status.required_by_org);
            // The last factor cannot go.
            let id = status.factors[0].id.clone();
            assert!(matches!(
                core.remove_factor(&s.principal, gatehouse_core::mfa::FactorKind::Totp, &id)
                    .await,
                Err(Error::Conflict(_))
            ));
            // A member with no factor at all is limited to setup straight after the password.
            account(&core, "tom").await;
            assert!(signed_in(&core, "tom").await.principal.mfa_setup_required);
        }
    );

    conformance!(
        without_a_relying_party_security_keys_are_off,
        |store: Arc<dyn Store>| async move {
            let (core, _clock) = ready(store).await;
            account(&core, "uma").await;
            let s = signed_in(&core, "uma").await;
            assert!(!core.webauthn_enabled());
            assert!(matches!(
                core.start_key_registration(&s.principal).await,
                Err(Error::Forbidden(_))
            ));
            assert!(matches!(
                core.start_passkey_sign_in(None).await,
                Err(Error::Forbidden(_))
            ));
        }
    );
}
