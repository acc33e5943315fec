//! Per-account limits for an API with quotas: at most N requests in flight, and a budget of quota
//! units that refills continuously (a token bucket holding one second's worth).

use std::time::Duration;

use tokio::sync::{Mutex, Semaphore, SemaphorePermit};
use tokio::time::Instant;

pub struct AccountLimiter {
    in_flight: Semaphore,
    budget: Mutex<Budget>,
}

struct Budget {
    available: f64,
    per_second: f64,
    updated: Instant,
}

impl AccountLimiter {
    pub fn new(max_in_flight: usize, units_per_second: u32) -> AccountLimiter {
        let per_second = f64::from(units_per_second.max(1));
        AccountLimiter {
            in_flight: Semaphore::new(max_in_flight.max(1)),
            budget: Mutex::new(Budget { available: per_second, per_second, updated: Instant::now() }),
        }
    }

    /// Waits for a request slot and for `units` of quota; the slot is held until the permit drops.
    pub async fn acquire(&self, units: u32) -> SemaphorePermit<'_> {
        // The semaphore is never closed, so acquiring only waits.
        let permit = loop {
            if let Ok(permit) = self.in_flight.acquire().await {
                break permit;
            }
        };
        self.spend(units).await;
        permit
    }

    async fn spend(&self, units: u32) {
        loop {
            let wait = {
                let mut budget = self.budget.lock().await;
                let now = Instant::now();
                let refill = now.duration_since(budget.updated).as_secs_f64() * budget.per_second;
                budget.available = (budget.available + refill).min(budget.per_second);
                budget.updated = now;
                // A call dearer than a second's budget may run once the bucket is full.
                let needed = f64::from(units).min(budget.per_second);
                if budget.available >= needed {
                    budget.available -= f64::from(units);
                    return;
                }
                Duration::from_secs_f64((needed - budget.available) / budget.per_second)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn budget_spreads_calls_over_time() {
        let limiter = AccountLimiter::new(5, 10);
        let start = tokio::time::Instant::now();
        for _ in 0..4 {
            drop(limiter.acquire(5).await);
        }
        // 20 units at 10 per second with 10 in hand: the last two calls wait about a second.
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(900), "waited only {waited:?}");
        assert!(waited <= Duration::from_millis(1600), "waited {waited:?}");
    }

    #[tokio::test]
    async fn in_flight_is_bounded() {
        let limiter = AccountLimiter::new(2, 1000);
        let first = limiter.acquire(1).await;
        let _second = limiter.acquire(1).await;
        let third = tokio::time::timeout(Duration::from_millis(50), limiter.acquire(1)).await;
        assert!(third.is_err(), "a third request must wait");
        drop(first);
        let third = tokio::time::timeout(Duration::from_millis(500), limiter.acquire(1)).await;
        assert!(third.is_ok());
    }
}
