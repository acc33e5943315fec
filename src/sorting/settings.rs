//! A user's own AI settings (`users.ai_settings`, JSON): the sorting mode and a daily budget.

use serde::{Deserialize, Serialize};

use crate::config::SortingMode;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserAiSettings {
    /// `hybrid`, `llm` or `local`; the server's default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Dollars of AI per UTC day; the local sorter takes over once spent. No limit when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_budget_usd: Option<f64>,
}

impl UserAiSettings {
    /// Unreadable settings count as none: the server's defaults apply.
    pub fn parse(json: &str) -> UserAiSettings {
        serde_json::from_str(json).unwrap_or_default()
    }

    pub fn mode(&self) -> Option<SortingMode> {
        self.mode.as_deref().and_then(SortingMode::parse)
    }

    pub fn daily_budget_microdollars(&self) -> Option<i64> {
        self.daily_budget_usd.filter(|b| b.is_finite() && *b >= 0.0).map(|b| (b * 1_000_000.0).round() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_leniently() {
        let settings = UserAiSettings::parse(r#"{"mode":"local","daily_budget_usd":0.25}"#);
        assert_eq!(settings.mode(), Some(SortingMode::Local));
        assert_eq!(settings.daily_budget_microdollars(), Some(250_000));
        assert_eq!(UserAiSettings::parse("{}"), UserAiSettings::default());
        assert_eq!(UserAiSettings::parse("not json"), UserAiSettings::default());
    }
}
