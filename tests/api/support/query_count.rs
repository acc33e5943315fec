//! Counts the SQL statements run on one test database, through diesel's instrumentation: installed
//! for every connection the process opens, keyed by the database it connects to, so tests running
//! side by side in one process do not count each other's queries.

use std::collections::HashMap;
use std::sync::{Mutex, Once};

use diesel::connection::{Instrumentation, InstrumentationEvent, set_default_instrumentation};

static COUNTS: Mutex<Option<HashMap<String, u64>>> = Mutex::new(None);

struct Counter {
    url: String,
}

impl Instrumentation for Counter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartEstablishConnection { url, .. } => url.clone_into(&mut self.url),
            InstrumentationEvent::StartQuery { .. } => {
                let mut counts = COUNTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                *counts.get_or_insert_with(HashMap::new).entry(self.url.clone()).or_default() += 1;
            }
            _ => {}
        }
    }
}

/// Starts counting for connections opened from now on; call before the app is spawned.
pub fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        set_default_instrumentation(|| Some(Box::new(Counter { url: String::new() }))).expect("instrumentation");
    });
}

/// Statements run so far on the database whose URL (or SQLite path) contains `database`.
pub fn statements_on(database: &str) -> u64 {
    let counts = COUNTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    counts.as_ref().map_or(0, |counts| counts.iter().filter(|(url, _)| url.contains(database)).map(|(_, n)| n).sum())
}
