//! Sorting: choosing each email's category (or honestly none) and writing its summary. The local
//! sorter (`local`, `summary`, `text`), the LLM (`llm`), sender memory and the order they are tried
//! in (`pipeline`), the user's AI settings, the evaluation set, and a fake OpenAI-compatible server
//! for the test suite and `emailgator bench sorting`.

pub mod evaluation;
pub mod fake_llm;
pub mod lexicon;
pub mod llm;
pub mod local;
pub mod pipeline;
pub mod settings;
pub mod summary;
pub mod text;
