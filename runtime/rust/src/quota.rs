//! Rate quotas: how many frames a client may send, as a token bucket's
//! refill rate and burst. Here rather than in the server so generated
//! [`crate::Package`]s can name them (a schema's `@rate(10/s, burst 20)`).

use std::time::Duration;

/// A token bucket: `count` frames per `period` on average, up to `burst`
/// at once (a client that was quiet may send `burst` frames in a row, then
/// one per `period / count`).
///
/// ```
/// use std::time::Duration;
/// use tagwire::Quota;
///
/// let chat = Quota::per_second(10).with_burst(20);
/// assert_eq!(chat.interval(), Duration::from_millis(100));
/// assert_eq!(chat.burst(), 20);
/// assert_eq!(Quota::new(3, Duration::from_secs(60)).burst(), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    /// Time for one token to come back.
    interval: Duration,
    burst: u32,
}

impl Quota {
    /// `count` frames per `period`, with a burst of `count`. A `count` of 0
    /// counts as 1 (a bucket that never refills is a ban, not a quota).
    #[must_use]
    pub fn new(count: u32, period: Duration) -> Quota {
        let count = count.max(1);
        Quota {
            interval: period / count,
            burst: count,
        }
    }

    /// `count` frames per second, with a burst of `count`.
    #[must_use]
    pub fn per_second(count: u32) -> Quota {
        Quota::new(count, Duration::from_secs(1))
    }

    /// `count` frames per minute, with a burst of `count`.
    #[must_use]
    pub fn per_minute(count: u32) -> Quota {
        Quota::new(count, Duration::from_secs(60))
    }

    /// The same rate with room for `burst` frames at once (at least 1).
    #[must_use]
    pub fn with_burst(self, burst: u32) -> Quota {
        Quota {
            burst: burst.max(1),
            ..self
        }
    }

    /// Time for one token to come back (`period / count`).
    #[must_use]
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Frames a quiet client may send at once.
    #[must_use]
    pub fn burst(&self) -> u32 {
        self.burst
    }
}

impl std::fmt::Display for Quota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "1 per {:?} (burst {})", self.interval, self.burst)
    }
}
