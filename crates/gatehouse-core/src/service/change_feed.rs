//! Following other nodes' changes as they commit. The store's push feed (PostgreSQL
//! `LISTEN/NOTIFY`) wakes this node, which applies what each notification names at once
//! and again a moment later; after any reconnect it re-reads the invalidation and
//! revocation tables, since notifications sent while it was away are gone. The poll in
//! [`Core::refresh_invalidations`] stays as the fallback, slower while the feed is live.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use super::Core;
use crate::store::{FeedEvent, Notice};

/// When a notified invalidation is applied a second time: a request that read the
/// store just before the change committed may cache the old state just after the first.
const REAPPLY_AFTER: Duration = Duration::from_millis(300);
/// How long to wait before asking a failed feed again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The feed's state, for `/readyz`, the metrics and the poll interval.
#[derive(Default)]
pub(super) struct FeedHealth {
    /// The store has a feed (PostgreSQL) and this node follows it.
    present: AtomicBool,
    /// The listener connection is up.
    connected: AtomicBool,
    /// Unix milliseconds of the last event, 0 for none.
    last_event_ms: AtomicI64,
    /// Reconnects (resyncs) since start.
    resyncs: AtomicI64,
}

/// What `/readyz` says of the feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedState {
    /// A single-node store: changes are applied by the node that makes them.
    NotUsed,
    /// Listening.
    Connected,
    /// The listener is down; the poll carries on until it is back.
    Reconnecting,
}

impl Core {
    /// Follows the store's change feed until the process stops; returns at once for a
    /// store without one. Run once, in the background, beside the periodic jobs.
    pub async fn follow_changes(self: Arc<Self>) {
        let mut feed = match self.store.change_feed().await {
            Ok(Some(feed)) => feed,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "no change feed: other nodes' changes arrive by polling");
                return;
            }
        };
        self.feed.present.store(true, Ordering::Relaxed);
        loop {
            match feed.next().await {
                Ok(event) => {
                    self.feed_up();
                    match event {
                        FeedEvent::Changed(payload) => self.apply_notice(&payload).await,
                        FeedEvent::Resync => self.resync().await,
                    }
                }
                Err(e) => {
                    if self.feed.connected.swap(false, Ordering::Relaxed) {
                        tracing::warn!(error = %e, "change listener lost: polling until it reconnects");
                    }
                    tokio::time::sleep(RETRY_AFTER).await;
                }
            }
        }
    }

    fn feed_up(&self) {
        let now_ms = (self.clock.now().unix_timestamp_nanos() / 1_000_000) as i64;
        self.feed.last_event_ms.store(now_ms, Ordering::Relaxed);
        if !self.feed.connected.swap(true, Ordering::Relaxed) {
            tracing::info!("change listener connected");
        }
    }

    async fn apply_notice(self: &Arc<Self>, payload: &str) {
        match Notice::from_payload(payload) {
            Some(Notice::Invalidated(change)) => {
                self.apply_invalidations(std::iter::once(change.clone()));
                let me = Arc::clone(self);
                tokio::spawn(async move {
                    tokio::time::sleep(REAPPLY_AFTER).await;
                    me.apply_invalidations(std::iter::once(change));
                });
            }
            Some(Notice::TokensRevoked) => {
                if let Err(e) = self.refresh_revocations().await {
                    tracing::warn!(error = %e, "reading token revocations failed");
                }
            }
            None => tracing::debug!("a change notification of an unknown kind was ignored"),
        }
    }

    /// Re-reads what may have been missed while the listener was away.
    async fn resync(&self) {
        self.feed.resyncs.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.refresh_invalidations().await {
            tracing::warn!(error = %e, "resync of cache invalidations failed");
        }
        if let Err(e) = self.refresh_revocations().await {
            tracing::warn!(error = %e, "resync of token revocations failed");
        }
    }

    /// The change feed's state.
    pub fn feed_state(&self) -> FeedState {
        if !self.feed.present.load(Ordering::Relaxed) {
            FeedState::NotUsed
        } else if self.feed.connected.load(Ordering::Relaxed) {
            FeedState::Connected
        } else {
            FeedState::Reconnecting
        }
    }

    /// How many times the feed reconnected and resynced since start.
    pub fn feed_resyncs(&self) -> i64 {
        self.feed.resyncs.load(Ordering::Relaxed)
    }

    /// Seconds since the last invalidation poll, `None` before the first.
    pub fn invalidation_poll_age(&self) -> Option<i64> {
        let last = self.invalidations_polled.load(Ordering::Relaxed);
        (last != i64::MIN).then(|| self.clock.now().unix_timestamp() - last)
    }
}
