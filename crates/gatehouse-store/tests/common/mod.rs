//! Shared by the store's test files: the two-backend test macro and use-case helpers.
#![allow(dead_code, unused_imports)]

use std::sync::Arc;

use gatehouse_core::actor::Actor;
use gatehouse_core::clock::ManualClock;
use gatehouse_core::password::HashParams;
use gatehouse_core::seal::{Keyring, MasterKey};
use gatehouse_core::service::{LoginAttempt, NewAccount, UseContext};
use gatehouse_core::store::Store;
use gatehouse_core::{Core, CoreSettings};
use time::OffsetDateTime;

/// Runs a test body against both backends.
#[macro_export]
macro_rules! conformance {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let dir = tempfile::tempdir().expect("tempdir");
                let store =
                    gatehouse_store::open(&gatehouse_store::testing::fresh_sqlite_url(dir.path()))
                        .await
                        .expect("open sqlite");
                ($body)(store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let url = gatehouse_store::testing::fresh_postgres_url().await;
                let store = gatehouse_store::open(&url).await.expect("open postgres");
                ($body)(store).await;
            }
        }
    };
}

pub fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("valid")
}

pub fn fast_settings() -> CoreSettings {
    CoreSettings {
        hash_params: HashParams {
            m_cost: 19_456,
            t_cost: 2,
            p_cost: 1,
        },
        ..CoreSettings::default()
    }
}

/// A core over `store` with a manual clock at [`t0`] and a fresh master key.
pub fn core_with(store: Arc<dyn Store>) -> (Core, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(t0()));
    let core = Core::new(store, clock.clone(), fast_settings())
        .expect("core")
        .with_master_keys(Arc::new(Keyring::single(MasterKey::generate())));
    (core, clock)
}

pub fn attempt<'a>(username: &'a str, password: &'a str) -> LoginAttempt<'a> {
    LoginAttempt {
        username,
        password,
        ip: Some([198, 51, 100, 1].into()),
        user_agent: Some("conformance"),
        previous_session: None,
    }
}

pub const PW: &str = "a long enough passphrase";

pub async fn member_actor(core: &Core, name: &str) -> Arc<Actor> {
    actor_in(core, name, gatehouse_core::org::Role::Member, None).await
}

/// Creates `name` with `role` in `org` (`None`: the default organisation) and signs them
/// in.
pub async fn actor_in(
    core: &Core,
    name: &str,
    role: gatehouse_core::org::Role,
    org: Option<&str>,
) -> Arc<Actor> {
    core.create_account(NewAccount {
        username: name,
        email: "x@example.org",
        display_name: None,
        password: PW,
        role,
        org,
    })
    .await
    .expect("create");
    let s = core
        .login(attempt(name, PW))
        .await
        .expect("login")
        .into_session()
        .expect("signed in");
    core.session_actor(&s.principal)
}

pub fn ctx() -> UseContext<'static> {
    UseContext {
        ip: Some([198, 51, 100, 2].into()),
        user_agent: Some("test"),
    }
}
