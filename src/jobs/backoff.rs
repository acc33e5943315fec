//! Retry delays: exponential in the attempt number, capped, with ±20% jitter so that a burst of
//! failures does not come back as a burst.

use std::time::Duration;

use rand::Rng;

/// The delay before attempt `attempt + 1`, given the attempt that just failed (1-based).
pub fn retry_delay(attempt: i64, base: Duration, max: Duration) -> Duration {
    let exponent = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let raw = base.saturating_mul(2u32.saturating_pow(exponent)).min(max);
    let jitter = rand::thread_rng().gen_range(0.8..=1.2);
    raw.mul_f64(jitter).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_jitter() {
        let base = Duration::from_secs(10);
        let max = Duration::from_secs(3600);
        for (attempt, expected) in [(1, 10.0), (2, 20.0), (3, 40.0), (5, 160.0)] {
            let delay = retry_delay(attempt, base, max).as_secs_f64();
            assert!((expected * 0.8..=expected * 1.2).contains(&delay), "attempt {attempt}: {delay}");
        }
    }

    #[test]
    fn never_exceeds_the_cap() {
        let max = Duration::from_secs(60);
        for attempt in [10, 31, 1000, i64::MAX] {
            assert!(retry_delay(attempt, Duration::from_secs(10), max) <= max);
        }
    }

    #[test]
    fn jitter_spreads_retries() {
        let delays: std::collections::HashSet<u128> =
            (0..20).map(|_| retry_delay(3, Duration::from_secs(10), Duration::from_secs(3600)).as_millis()).collect();
        assert!(delays.len() > 1, "jitter must vary the delay");
    }
}
