//! `Schedule`: a six-field cron expression (seconds first, UTC), parsed the way the cron runner does.

use chrono::{NaiveDateTime, TimeZone, Timelike, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds};

#[derive(Debug, Clone)]
pub struct Schedule {
    expression: String,
    cron: Cron,
}

impl Schedule {
    pub fn parse(expression: &str) -> Result<Self, String> {
        let cron = CronParser::builder()
            .seconds(Seconds::Required)
            .dom_and_dow(true)
            .build()
            .parse(expression)
            .map_err(|e| e.to_string())?;
        Ok(Self { expression: expression.to_owned(), cron })
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The first run strictly after `now`.
    pub fn next_after(&self, now: NaiveDateTime) -> Option<NaiveDateTime> {
        self.cron.find_next_occurrence(&Utc.from_utc_datetime(&now), false).ok().map(|t| t.naive_utc())
    }

    /// The tick that is due at `now`: the latest scheduled time at or just before it. A timer may
    /// wake a little early or late, so one second of slack is allowed forward.
    pub fn due_at(&self, now: NaiveDateTime) -> Option<NaiveDateTime> {
        let shifted = now + chrono::Duration::seconds(1);
        // Cron works in whole seconds; drop the fraction so the tick's own second is found.
        let probe = Utc.from_utc_datetime(&shifted.with_nanosecond(0).unwrap_or(shifted));
        self.cron.find_previous_occurrence(&probe, true).ok().map(|t| t.naive_utc())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").expect("valid time")
    }

    #[test]
    fn every_two_minutes() {
        let schedule = Schedule::parse("0 */2 * * * *").expect("valid");
        assert_eq!(schedule.next_after(at("2026-11-25 10:01:30.0")), Some(at("2026-11-25 10:02:00.0")));
        assert_eq!(schedule.due_at(at("2026-11-25 10:02:00.004")), Some(at("2026-11-25 10:02:00.0")));
        assert_eq!(schedule.due_at(at("2026-11-25 10:01:59.990")), Some(at("2026-11-25 10:02:00.0")));
    }

    #[test]
    fn five_field_expressions_are_rejected() {
        assert!(Schedule::parse("*/2 * * * *").is_err());
        assert!(Schedule::parse("not cron").is_err());
    }
}
