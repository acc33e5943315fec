//! `emails`: every imported message with its parsed fields, sorting result and lifecycle state.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::emails;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = emails)]
pub struct Email {
    pub id: String,
    pub mailbox_id: String,
    pub provider_message_id: String,
    pub thread_id: Option<String>,
    pub message_id_header: Option<String>,
    pub from_name: Option<String>,
    pub from_address: Option<String>,
    pub to_addresses: String,
    pub subject: String,
    pub sent_at: Option<NaiveDateTime>,
    pub received_at: Option<NaiveDateTime>,
    pub snippet: String,
    pub text_body: Option<String>,
    pub sanitized_html: Option<String>,
    pub raw_size: i64,
    pub list_id: Option<String>,
    pub list_unsubscribe_urls: String,
    pub is_one_click: bool,
    pub auth_result: Option<String>,
    pub state: String,
    pub category_id: Option<String>,
    pub sort_source: Option<String>,
    pub confidence: Option<f64>,
    pub summary: Option<String>,
    pub archived_at: Option<NaiveDateTime>,
    pub trashed_at: Option<NaiveDateTime>,
    pub is_after_unsubscribe: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, email: &Email) -> QueryResult<()> {
    diesel::insert_into(emails::table).values(email).execute(conn).map(drop)
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Email>> {
    emails::table.find(id).select(Email::as_select()).first(conn).optional()
}

/// Email counts per category id for the given categories (for the dashboard cards).
pub fn count_by_category(conn: &mut DbConn, category_ids: &[String]) -> QueryResult<Vec<(Option<String>, i64)>> {
    emails::table
        .filter(emails::category_id.eq_any(category_ids))
        .group_by(emails::category_id)
        .select((emails::category_id, diesel::dsl::count_star()))
        .load(conn)
}
