//! Stored values as the API's scalars: ids as `ID`, naive UTC times as RFC 3339 `DateTime`, counts
//! as `Int` (saturating: no count a person has comes near 2^31).

use chrono::{DateTime, NaiveDateTime, Utc};
use juniper::ID;

pub fn id(value: &str) -> ID {
    ID::new(value.to_owned())
}

pub fn utc(at: NaiveDateTime) -> DateTime<Utc> {
    at.and_utc()
}

pub fn int(count: i64) -> i32 {
    i32::try_from(count).unwrap_or(if count < 0 { i32::MIN } else { i32::MAX })
}

pub fn int_from_usize(count: usize) -> i32 {
    i32::try_from(count).unwrap_or(i32::MAX)
}

/// The ids a client sent, as the strings the services take.
pub fn strings(ids: &[ID]) -> Vec<String> {
    ids.iter().map(|id| id.to_string()).collect()
}
