//! Rate limits: token buckets per connection and per message version, and
//! the count of refusals that closes a flooding client with 4005.
//!
//! Each bucket is GCRA (the "virtual scheduling" form of a token bucket):
//! one instant per bucket, the theoretical arrival time of the next frame.
//! A bucket belongs to one connection and is touched only by its task, so
//! it needs no atomics; time is `tokio::time::Instant`, so tests run under
//! tokio's paused clock. (Why not the `governor` crate: its limiters are
//! built to be shared between threads, with an atomic state, a clock type
//! to adapt and about 50 bytes each; ours are one `Instant`, allocated
//! only for the message versions a client actually sends, and the check is
//! the dozen lines below.)

use std::time::Duration;

use tokio::time::Instant;

use crate::{Header, Quota};

/// Rate limits for every connection (`ServerConfig::rate_limits`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RateLimits {
    /// Every frame a client sends, control frames (pongs, WebSocket pings)
    /// included (default none: a server cannot guess its application's
    /// traffic; set one, e.g. `Quota::per_second(50).with_burst(100)`).
    pub connection: Option<Quota>,
    /// Per message version, by header; these override the package's own
    /// ([`crate::Package::rate_limits`]) for the same header.
    pub messages: Vec<(Header, Quota)>,
    /// A client refused this many times within `flood_window` is closed
    /// with 4005 (default 20). 0 never closes.
    pub flood_refusals: u32,
    /// See `flood_refusals` (default 10 s).
    pub flood_window: Duration,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            connection: None,
            messages: Vec::new(),
            flood_refusals: 20,
            flood_window: Duration::from_secs(10),
        }
    }
}

impl RateLimits {
    /// Sets the quota of every frame of a connection.
    #[must_use]
    pub fn per_connection(mut self, quota: Quota) -> Self {
        self.connection = Some(quota);
        self
    }

    /// Closes a client with 4005 once it has been refused `refusals` times
    /// within `window` (0 never closes).
    #[must_use]
    pub fn close_floods_after(mut self, refusals: u32, window: Duration) -> Self {
        self.flood_refusals = refusals;
        self.flood_window = window;
        self
    }

    /// Sets (or replaces) the quota of one message version.
    #[must_use]
    pub fn message(mut self, header: Header, quota: Quota) -> Self {
        self.messages.retain(|(h, _)| *h != header);
        self.messages.push((header, quota));
        self
    }
}

/// The quotas a server enforces: the package's, overridden by the
/// configuration's; sorted by header.
pub(crate) fn merged(package: Vec<(Header, Quota)>, config: &RateLimits) -> Vec<(Header, Quota)> {
    let mut all = config.messages.clone();
    for (header, quota) in package {
        if !all.iter().any(|(h, _)| *h == header) {
            all.push((header, quota));
        }
    }
    all.sort_by_key(|(h, _)| *h);
    all.dedup_by_key(|(h, _)| *h);
    all
}

/// One bucket's state: when the next frame is due at the steady rate.
/// `None` until the first frame.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Bucket(Option<Instant>);

impl Bucket {
    /// Takes a token at `now`; `Err` with how long until one is free.
    pub(crate) fn take(&mut self, quota: &Quota, now: Instant) -> Result<(), Duration> {
        let interval = quota.interval();
        let tolerance = interval.saturating_mul(quota.burst() - 1);
        let due = self.0.map_or(now, |tat| tat.max(now));
        let ahead = due - now;
        if ahead > tolerance {
            return Err(ahead - tolerance);
        }
        self.0 = Some(due + interval);
        Ok(())
    }
}

/// Why a frame was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Over {
    Connection(Quota, Duration),
    Message(Header, Quota, Duration),
}

impl std::fmt::Display for Over {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Over::Connection(quota, wait) => write!(
                f,
                "over this connection's rate limit ({quota}); frame dropped, next in {} ms",
                wait.as_millis().max(1)
            ),
            Over::Message(header, quota, wait) => write!(
                f,
                "over the rate limit of `{header}` ({quota}); frame dropped, next in {} ms",
                wait.as_millis().max(1)
            ),
        }
    }
}

/// One connection's buckets and recent refusals.
#[derive(Debug, Default)]
pub(crate) struct RateState {
    connection: Bucket,
    /// Buckets of the limited message versions this client has sent.
    messages: Vec<(Header, Bucket)>,
    refusals: u32,
    window_start: Option<Instant>,
}

impl RateState {
    /// Takes a connection token for one frame.
    pub(crate) fn frame(&mut self, limits: &RateLimits, now: Instant) -> Result<(), Over> {
        match &limits.connection {
            Some(quota) => self
                .connection
                .take(quota, now)
                .map_err(|wait| Over::Connection(*quota, wait)),
            None => Ok(()),
        }
    }

    /// Takes a token of `header`'s bucket, if it has a quota.
    pub(crate) fn message(
        &mut self,
        quotas: &[(Header, Quota)],
        header: Header,
        now: Instant,
    ) -> Result<(), Over> {
        let Ok(i) = quotas.binary_search_by_key(&header, |(h, _)| *h) else {
            return Ok(());
        };
        let quota = quotas[i].1;
        let bucket = match self.messages.iter_mut().position(|(h, _)| *h == header) {
            Some(j) => &mut self.messages[j].1,
            None => {
                self.messages.push((header, Bucket::default()));
                let last = self.messages.len() - 1;
                &mut self.messages[last].1
            }
        };
        bucket
            .take(&quota, now)
            .map_err(|wait| Over::Message(header, quota, wait))
    }

    /// Counts a refusal; true when the client has now been refused
    /// `flood_refusals` times within `flood_window` and must be closed.
    pub(crate) fn refused(&mut self, limits: &RateLimits, now: Instant) -> bool {
        match self.window_start {
            Some(start) if now.duration_since(start) < limits.flood_window => {}
            _ => {
                self.window_start = Some(now);
                self.refusals = 0;
            }
        }
        self.refusals += 1;
        limits.flood_refusals > 0 && self.refusals >= limits.flood_refusals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_bucket_allows_its_burst_then_one_per_interval() {
        let quota = Quota::per_second(10).with_burst(3);
        let mut bucket = Bucket::default();
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(bucket.take(&quota, start), Ok(()));
        }
        assert_eq!(bucket.take(&quota, start), Err(Duration::from_millis(100)));
        tokio::time::advance(Duration::from_millis(99)).await;
        assert!(bucket.take(&quota, Instant::now()).is_err());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(bucket.take(&quota, Instant::now()), Ok(()));
        assert!(bucket.take(&quota, Instant::now()).is_err());
        // Quiet for a while: the whole burst is back, not more.
        tokio::time::advance(Duration::from_secs(10)).await;
        let now = Instant::now();
        assert_eq!(
            (0..5).filter(|_| bucket.take(&quota, now).is_ok()).count(),
            3
        );
    }

    #[tokio::test(start_paused = true)]
    async fn refusals_close_only_when_enough_fall_in_one_window() {
        let limits = RateLimits {
            flood_refusals: 3,
            flood_window: Duration::from_secs(1),
            ..RateLimits::default()
        };
        let mut state = RateState::default();
        assert!(!state.refused(&limits, Instant::now()));
        assert!(!state.refused(&limits, Instant::now()));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(!state.refused(&limits, Instant::now()), "a new window");
        assert!(!state.refused(&limits, Instant::now()));
        assert!(state.refused(&limits, Instant::now()));
    }

    #[test]
    fn the_configuration_overrides_the_package_header_by_header() {
        let aa = Header::new(*b"aa");
        let ab = Header::new(*b"ab");
        let config = RateLimits::default().message(ab, Quota::per_second(1));
        let merged = merged(
            vec![(ab, Quota::per_second(100)), (aa, Quota::per_second(5))],
            &config,
        );
        assert_eq!(
            merged,
            [(aa, Quota::per_second(5)), (ab, Quota::per_second(1))]
        );
    }
}
