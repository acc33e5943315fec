//! Pure types and rules: newtypes that parse at the edge and enums with their stored names. No I/O.

mod email_address;
mod job_state;
pub mod mailto;
pub mod mime;
mod schedule;
pub mod unsubscribe;
pub mod unsubscribe_links;

pub use email_address::{EmailAddress, InvalidEmailAddress};
pub use job_state::JobState;
pub use schedule::Schedule;
