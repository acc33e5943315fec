//! `ai_usage`: calls, tokens and estimated cost of the AI per user and UTC day.

use diesel::prelude::*;

use super::DbConn;
use super::schema::ai_usage;

#[derive(Debug, Clone, Default, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = ai_usage)]
#[diesel(primary_key(user_id, day))]
pub struct AiUsage {
    pub user_id: String,
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub calls: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_microdollars: i64,
}

pub fn find(conn: &mut DbConn, user_id: &str, day: &str) -> QueryResult<Option<AiUsage>> {
    ai_usage::table.find((user_id, day)).select(AiUsage::as_select()).first(conn).optional()
}

/// Adds one call's usage to the day's totals (call inside a transaction).
pub fn add(conn: &mut DbConn, usage: &AiUsage) -> QueryResult<()> {
    match find(conn, &usage.user_id, &usage.day)? {
        Some(total) => diesel::update(ai_usage::table.find((&usage.user_id, &usage.day)))
            .set((
                ai_usage::calls.eq(total.calls + usage.calls),
                ai_usage::prompt_tokens.eq(total.prompt_tokens + usage.prompt_tokens),
                ai_usage::completion_tokens.eq(total.completion_tokens + usage.completion_tokens),
                ai_usage::cost_microdollars.eq(total.cost_microdollars + usage.cost_microdollars),
            ))
            .execute(conn)
            .map(drop),
        None => diesel::insert_into(ai_usage::table).values(usage).execute(conn).map(drop),
    }
}

/// The user's last `days` days with any usage, newest first.
pub fn recent(conn: &mut DbConn, user_id: &str, days: i64) -> QueryResult<Vec<AiUsage>> {
    ai_usage::table
        .filter(ai_usage::user_id.eq(user_id))
        .order(ai_usage::day.desc())
        .limit(days)
        .select(AiUsage::as_select())
        .load(conn)
}
