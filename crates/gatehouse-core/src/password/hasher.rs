//! argon2id hashing, run on tokio's blocking threads behind a semaphore so that a
//! flood of sign-ins queues here instead of starving the async workers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::{Error, Result};

/// argon2id cost parameters. Defaults are the OWASP minimums (m=19456 KiB, t=2, p=1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        HashParams {
            m_cost: 19_456,
            t_cost: 2,
            p_cost: 1,
        }
    }
}

/// The password-hash pool's state, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashPoolStats {
    /// Hashes running now.
    pub running: usize,
    /// Hashes that may run at once.
    pub concurrency: usize,
    /// Callers waiting for a place.
    pub queued: usize,
    /// Callers that may wait before the next is refused.
    pub max_queue: usize,
    /// Callers refused (503) since the start.
    pub rejected: u64,
}

/// Hashes and verifies passwords with bounded concurrency.
#[derive(Clone)]
pub struct PasswordHasher {
    params: HashParams,
    /// Bounds how many hashes run at once (each holds ~19 MiB and a core for ~17 ms).
    permits: Arc<Semaphore>,
    /// How many callers may wait for a permit before we shed load with 503.
    max_queue: usize,
    queued: Arc<AtomicUsize>,
    /// Callers refused with 503 because the queue was full, since the start.
    rejected: Arc<AtomicU64>,
    /// Hashes waited for or running now; their limit.
    concurrency: usize,
    /// A real hash of a random password, verified for unknown users so that their
    /// response costs the same time as a wrong password.
    dummy_hash: Arc<str>,
}

impl PasswordHasher {
    /// A hasher running at most `concurrency` hashes at once, queueing up to `max_queue` more.
    pub fn new(params: HashParams, concurrency: usize, max_queue: usize) -> Result<Self> {
        let argon = argon(params)?;
        let dummy = argon
            .hash_password(crate::password::generate_password().as_bytes())
            .map_err(Error::internal)?
            .to_string();
        Ok(PasswordHasher {
            params,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            max_queue,
            queued: Arc::new(AtomicUsize::new(0)),
            rejected: Arc::new(AtomicU64::new(0)),
            concurrency: concurrency.max(1),
            dummy_hash: dummy.into(),
        })
    }

    /// The pool's queue and load now, and its refusals since the start.
    pub fn stats(&self) -> HashPoolStats {
        let running = self
            .concurrency
            .saturating_sub(self.permits.available_permits());
        HashPoolStats {
            running,
            concurrency: self.concurrency,
            // A caller counts as queued from its arrival until it has a permit.
            queued: self.queued.load(Ordering::Relaxed),
            max_queue: self.max_queue,
            rejected: self.rejected.load(Ordering::Relaxed),
        }
    }

    /// Hashes a password into a PHC string that records its own parameters.
    pub async fn hash(&self, password: &str) -> Result<String> {
        let params = self.params;
        let password = zeroize::Zeroizing::new(password.to_owned());
        self.run(move || {
            argon(params)?
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(Error::internal)
        })
        .await
    }

    /// Verifies a password against a stored hash, or against the dummy hash when
    /// `stored` is `None`. Returns whether it matched and whether to rehash.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<Verified> {
        let known = stored.is_some();
        let hash = stored.map_or_else(|| self.dummy_hash.to_string(), str::to_owned);
        let password = zeroize::Zeroizing::new(password.to_owned());
        let wanted = self.params;
        self.run(move || {
            let parsed = PasswordHash::new(&hash).map_err(Error::internal)?;
            let ok = Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok();
            let needs_rehash = match Params::try_from(&parsed) {
                Ok(p) => {
                    p.m_cost() < wanted.m_cost
                        || p.t_cost() < wanted.t_cost
                        || p.p_cost() < wanted.p_cost
                }
                Err(_) => true,
            };
            Ok(Verified {
                matched: ok && known,
                needs_rehash: ok && known && needs_rehash,
            })
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        // SECURITY: shed load rather than build an unbounded queue of 19 MiB jobs. The
        // place is held by a guard, so a caller that goes away while it waits (its
        // connection dropped, its future cancelled) gives it back; otherwise a few
        // abandoned sign-ins would fill the queue for good and every later one get 503.
        let place = QueuePlace::take(&self.queued);
        if place.ahead >= self.max_queue {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(Error::Unavailable { retry_after: 1 });
        }
        let permit = self.permits.clone().acquire_owned().await;
        drop(place);
        let permit = permit.map_err(Error::internal)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(Error::internal)?
    }
}

/// One caller's place in the hashing queue, given back when dropped on any path
/// (answered, refused, or cancelled while waiting).
struct QueuePlace<'a> {
    queued: &'a AtomicUsize,
    /// How many callers were queued before this one.
    ahead: usize,
}

impl<'a> QueuePlace<'a> {
    fn take(queued: &'a AtomicUsize) -> Self {
        let ahead = queued.fetch_add(1, Ordering::SeqCst);
        QueuePlace { queued, ahead }
    }
}

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        self.queued.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The password matched a real account's hash.
    pub matched: bool,
    /// The stored hash used weaker parameters than configured.
    pub needs_rehash: bool,
}

fn argon(p: HashParams) -> Result<Argon2<'static>> {
    let params = Params::new(p.m_cost, p.t_cost, p.p_cost, None).map_err(Error::internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> HashParams {
        HashParams {
            m_cost: 1024,
            t_cost: 1,
            p_cost: 1,
        }
    }

    #[tokio::test]
    async fn hashes_are_argon2id_with_their_parameters_and_verify() {
        let h = PasswordHasher::new(HashParams::default(), 1, 8).expect("hasher");
        let hash = h.hash("correct horse battery").await.expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let v = h
            .verify("correct horse battery", Some(&hash))
            .await
            .expect("v");
        assert_eq!(
            v,
            Verified {
                matched: true,
                needs_rehash: false
            }
        );
        let v = h
            .verify("wrong horse battery", Some(&hash))
            .await
            .expect("v");
        assert!(!v.matched);
    }

    #[tokio::test]
    async fn unknown_users_never_match_even_with_the_dummy_password() {
        let h = PasswordHasher::new(cheap(), 1, 8).expect("hasher");
        assert!(!h.verify("anything at all", None).await.expect("v").matched);
    }

    #[tokio::test]
    async fn hashes_with_weaker_parameters_are_flagged_for_rehash() {
        let weak = PasswordHasher::new(cheap(), 1, 8).expect("hasher");
        let hash = weak.hash("correct horse battery").await.expect("hash");
        let strong = PasswordHasher::new(HashParams::default(), 1, 8).expect("hasher");
        let v = strong
            .verify("correct horse battery", Some(&hash))
            .await
            .expect("v");
        assert!(v.matched && v.needs_rehash);
    }

    #[tokio::test]
    async fn callers_cancelled_while_queued_give_their_place_back() {
        let h = PasswordHasher::new(cheap(), 1, 4).expect("hasher");
        // Hold the only permit so that every caller has to queue.
        let held = h.permits.clone().acquire_owned().await.expect("permit");
        for i in 0..20 {
            let waiting = tokio::time::timeout(
                std::time::Duration::from_millis(5),
                h.hash("correct horse battery"),
            )
            .await;
            assert!(
                waiting.is_err(),
                "caller {i} was answered ({waiting:?}) instead of queued: \
                 cancelled callers kept their places"
            );
        }
        assert_eq!(
            h.queued.load(Ordering::SeqCst),
            0,
            "every place was given back"
        );
        drop(held);
        h.hash("correct horse battery")
            .await
            .expect("a new sign-in is hashed, not refused with 503");
    }

    #[tokio::test]
    async fn a_full_queue_sheds_load_with_unavailable() {
        let h = PasswordHasher::new(cheap(), 1, 0).expect("hasher");
        assert!(matches!(
            h.hash("whatever password").await,
            Err(Error::Unavailable { .. })
        ));
    }
}
