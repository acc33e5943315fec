//! `aiUsage`: the AI's calls, tokens and estimated cost per UTC day, as the AI settings page shows.

use juniper::GraphQLObject;

use super::context::Context;
use super::scalars::int;
use crate::error::AppError;

/// One UTC day's AI use.
#[derive(GraphQLObject)]
pub struct AiUsageDay {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub calls: i32,
    pub prompt_tokens: i32,
    pub completion_tokens: i32,
    /// Estimated from the configured prices.
    pub cost_dollars: f64,
}

/// The days with any use among the last `days` (today included), newest first.
pub async fn recent(ctx: &Context, days: i32) -> Result<Vec<AiUsageDay>, AppError> {
    if !(1..=365).contains(&days) {
        return Err(AppError::invalid("days", "choose between 1 and 365 days"));
    }
    let first_day = (ctx.now.date() - chrono::Duration::days(i64::from(days) - 1)).format("%Y-%m-%d").to_string();
    let usage = ctx.db(move |conn, user_id| Ok(crate::db::ai_usage::recent(conn, user_id, i64::from(days))?)).await?;
    Ok(usage
        .into_iter()
        .filter(|u| u.day >= first_day)
        .map(|u| AiUsageDay {
            day: u.day,
            calls: int(u.calls),
            prompt_tokens: int(u.prompt_tokens),
            completion_tokens: int(u.completion_tokens),
            cost_dollars: u.cost_microdollars as f64 / 1_000_000.0,
        })
        .collect())
}
