//! Reconnect delays: exponential backoff with full jitter (SPEC §9.4).
//!
//! Pure functions of the retry index and a random source, so the bounds are
//! unit-tested with a seeded RNG and the connection task stays simple.

use std::time::Duration;

use rand::Rng;

/// Largest factor a drain notice may apply to the backoff: a hostile or
/// misconfigured server cannot park its clients for days.
pub(crate) const MAX_FACTOR: f64 = 64.0;

/// Exponential backoff: retry `n` waits a uniformly random time in
/// `[0, min(max, initial × multiplierⁿ)]` ("full jitter").
///
/// Delays are whole milliseconds (tokio's timer resolution), so what the
/// client reports in [`Status::Reconnecting`](super::Status::Reconnecting)
/// is exactly what it sleeps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Ceiling of the first retry (default 500 ms).
    pub initial: Duration,
    /// Largest ceiling (default 30 s).
    pub max: Duration,
    /// Growth of the ceiling per retry (default 2).
    pub multiplier: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            multiplier: 2.0,
        }
    }
}

impl Backoff {
    /// The ceiling of retry `retry` (0-based): `min(max, initial ×
    /// multiplierⁿ)`, in whole milliseconds. A multiplier below 1 (or not a
    /// number) counts as 1.
    #[must_use]
    pub fn ceiling(&self, retry: u32) -> Duration {
        let multiplier = if self.multiplier.is_finite() && self.multiplier >= 1.0 {
            self.multiplier
        } else {
            1.0
        };
        let max = duration_ms(self.max);
        let initial = duration_ms(self.initial).min(max);
        // powi saturates to +inf, and min(inf, max) is max.
        let exponent = i32::try_from(retry).unwrap_or(i32::MAX);
        let ceiling = (initial * multiplier.powi(exponent)).min(max);
        Duration::from_millis(ceiling as u64)
    }

    /// The ceiling of retry `retry` scaled by `factor` (a drain notice's
    /// backoff multiplier; 1 otherwise). The factor scales the maximum too:
    /// the deploy backoff is the whole curve doubled. Factors that are not
    /// finite or negative count as 1; factors above 64 count as 64.
    #[must_use]
    pub fn scaled_ceiling(&self, retry: u32, factor: f64) -> Duration {
        let base = self.ceiling(retry).as_millis() as f64;
        Duration::from_millis((base * sanitize_factor(factor)).round() as u64)
    }

    /// The ceiling of the wait after a refusal with HTTP 503 (a full or
    /// draining server): the deploy's curve, `scaled_ceiling(retry,
    /// factor)`, but at least twice the server's `Retry-After` (itself
    /// capped at `max`). The wait is uniform below it, so its mean is the
    /// `Retry-After` the server asked for while clients refused together
    /// come back spread over twice that, never in step; past it the curve
    /// keeps doubling.
    pub(crate) fn unavailable_ceiling(
        &self,
        retry: u32,
        factor: f64,
        retry_after: Option<Duration>,
    ) -> Duration {
        let asked = retry_after.map_or(Duration::ZERO, |r| r.min(self.max));
        let asked = Duration::from_millis(u64::try_from(asked.as_millis()).unwrap_or(u64::MAX));
        self.scaled_ceiling(retry, factor)
            .max(asked.saturating_mul(2))
    }

    /// A random delay for retry `retry`, uniform in whole milliseconds over
    /// `[0, scaled_ceiling(retry, factor)]`.
    pub fn delay<R: Rng + ?Sized>(&self, retry: u32, factor: f64, rng: &mut R) -> Duration {
        uniform_up_to(self.scaled_ceiling(retry, factor), rng)
    }
}

/// A uniformly random whole number of milliseconds in `[0, ceiling]`.
pub(crate) fn uniform_up_to<R: Rng + ?Sized>(ceiling: Duration, rng: &mut R) -> Duration {
    let ceiling = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rng.random_range(0..=ceiling))
}

/// A drain notice's backoff multiplier as the client applies it.
pub(crate) fn sanitize_factor(factor: f64) -> f64 {
    if factor.is_finite() && factor >= 0.0 {
        factor.min(MAX_FACTOR)
    } else {
        1.0
    }
}

fn duration_ms(d: Duration) -> f64 {
    d.as_millis() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn ceilings_grow_by_the_multiplier_up_to_the_maximum() {
        let b = Backoff::default();
        let ceilings: Vec<u64> = (0..9).map(|n| b.ceiling(n).as_millis() as u64).collect();
        assert_eq!(
            ceilings,
            [
                500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000
            ]
        );
        // Huge retry counts saturate instead of overflowing.
        assert_eq!(b.ceiling(u32::MAX), MS(30_000));
    }

    #[test]
    fn a_deploy_factor_scales_the_whole_curve() {
        let b = Backoff::default();
        assert_eq!(b.scaled_ceiling(0, 2.0), MS(1_000));
        assert_eq!(b.scaled_ceiling(3, 2.0), MS(8_000));
        assert_eq!(b.scaled_ceiling(20, 2.0), MS(60_000));
        // Hostile factors are tamed.
        assert_eq!(b.scaled_ceiling(0, f64::NAN), MS(500));
        assert_eq!(b.scaled_ceiling(0, -3.0), MS(500));
        assert_eq!(b.scaled_ceiling(0, f64::INFINITY), MS(500));
        assert_eq!(b.scaled_ceiling(20, 1e300), MS(30_000 * 64));
    }

    #[test]
    fn degenerate_configurations_do_not_panic() {
        let b = Backoff {
            initial: Duration::from_secs(10),
            max: Duration::from_secs(1),
            multiplier: f64::NAN,
        };
        assert_eq!(b.ceiling(0), MS(1_000));
        assert_eq!(b.ceiling(5), MS(1_000));
        let zero = Backoff {
            initial: Duration::ZERO,
            max: Duration::ZERO,
            multiplier: 0.5,
        };
        let mut rng = SmallRng::seed_from_u64(1);
        assert_eq!(zero.delay(3, 2.0, &mut rng), Duration::ZERO);
    }

    #[test]
    fn delays_stay_inside_their_jitter_bounds_and_spread_over_them() {
        let b = Backoff::default();
        let mut rng = SmallRng::seed_from_u64(7);
        for retry in 0..8 {
            let ceiling = b.ceiling(retry);
            let delays: Vec<Duration> = (0..2_000).map(|_| b.delay(retry, 1.0, &mut rng)).collect();
            assert!(delays.iter().all(|d| *d <= ceiling), "retry {retry}");
            // Full jitter: both ends of the range are used.
            let low = delays.iter().filter(|d| **d < ceiling / 4).count();
            let high = delays.iter().filter(|d| **d > ceiling * 3 / 4).count();
            assert!(
                low > 300 && high > 300,
                "retry {retry}: {low} low, {high} high"
            );
        }
    }

    #[test]
    fn a_refusal_waits_around_retry_after_then_follows_the_doubled_curve() {
        let b = Backoff::default();
        let ceilings = |retry_after| {
            (0..8)
                .map(|n| b.unavailable_ceiling(n, 2.0, retry_after).as_millis() as u64)
                .collect::<Vec<_>>()
        };
        // No Retry-After: the deploy curve (500 ms × 2ⁿ, doubled, up to 60 s).
        assert_eq!(
            ceilings(None),
            [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]
        );
        // Retry-After 10 s: at least 20 s (mean 10 s) until the curve passes it.
        assert_eq!(
            ceilings(Some(Duration::from_secs(10))),
            [
                20_000, 20_000, 20_000, 20_000, 20_000, 32_000, 60_000, 60_000
            ]
        );
        // A Retry-After of days counts as the backoff's maximum.
        assert_eq!(
            b.unavailable_ceiling(0, 2.0, Some(Duration::from_secs(86_400 * 7))),
            MS(60_000)
        );
        assert_eq!(b.unavailable_ceiling(0, 2.0, Some(MS(1_500))), MS(3_000));
    }

    #[test]
    fn the_same_seed_gives_the_same_delays() {
        let b = Backoff::default();
        let run = |seed| {
            let mut rng = SmallRng::seed_from_u64(seed);
            (0..10)
                .map(|n| b.delay(n, 1.0, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }
}
