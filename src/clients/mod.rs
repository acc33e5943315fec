//! Outside systems behind traits: each a seam with real implementations and a typed error.

pub mod google;
pub mod mail;
