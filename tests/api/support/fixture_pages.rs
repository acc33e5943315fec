//! The unsubscribe fixture pages live in the library (`bench unsubscribe` serves them too).

pub use emailgator::bench::fixture_pages::{CASES, FixturePages, READER};
