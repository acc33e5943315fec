//! The `Clock` seam: production reads the system time; tests may pass a fixed one.

use chrono::{NaiveDateTime, Utc};

/// Where "now" comes from. All stored times are naive UTC.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> NaiveDateTime;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> NaiveDateTime {
        // Microseconds, as PostgreSQL stores them: a time read back equals the time written on both
        // backends (a bulk delete's Undo finds its emails by that time).
        chrono::SubsecRound::trunc_subsecs(Utc::now().naive_utc(), 6)
    }
}

/// A clock that always says the same time, for tests of time-based rules.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub NaiveDateTime);

impl Clock for FixedClock {
    fn now(&self) -> NaiveDateTime {
        self.0
    }
}
