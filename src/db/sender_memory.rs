//! `sender_memory`: which category a sender's (or list's) mail keeps going to.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::sender_memory;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sender_memory)]
#[diesel(primary_key(user_id, sender_key))]
pub struct SenderMemory {
    pub user_id: String,
    pub sender_key: String,
    pub category_id: String,
    pub count: i64,
    pub updated_at: NaiveDateTime,
}

pub fn find_many(conn: &mut DbConn, user_id: &str, keys: &[String]) -> QueryResult<Vec<SenderMemory>> {
    sender_memory::table
        .filter(sender_memory::user_id.eq(user_id))
        .filter(sender_memory::sender_key.eq_any(keys))
        .select(SenderMemory::as_select())
        .load(conn)
}

/// One more email from `key` went to `category_id`: the count grows when it agrees with what is
/// remembered, and starts again at one for a new category (a correction or a change of mind).
pub fn record(conn: &mut DbConn, user_id: &str, key: &str, category_id: &str, now: NaiveDateTime) -> QueryResult<()> {
    let existing =
        sender_memory::table.find((user_id, key)).select(SenderMemory::as_select()).first(conn).optional()?;
    match existing {
        Some(memory) if memory.category_id == category_id => diesel::update(sender_memory::table.find((user_id, key)))
            .set((sender_memory::count.eq(memory.count + 1), sender_memory::updated_at.eq(now)))
            .execute(conn)
            .map(drop),
        Some(_) => diesel::update(sender_memory::table.find((user_id, key)))
            .set((
                sender_memory::category_id.eq(category_id),
                sender_memory::count.eq(1),
                sender_memory::updated_at.eq(now),
            ))
            .execute(conn)
            .map(drop),
        None => diesel::insert_into(sender_memory::table)
            .values(&SenderMemory {
                user_id: user_id.to_owned(),
                sender_key: key.to_owned(),
                category_id: category_id.to_owned(),
                count: 1,
                updated_at: now,
            })
            .execute(conn)
            .map(drop),
    }
}

/// The person put mail from `key` in `category_id`: sender memory decides the next one at once.
pub fn remember_user_choice(
    conn: &mut DbConn,
    user_id: &str,
    key: &str,
    category_id: &str,
    threshold: i64,
    now: NaiveDateTime,
) -> QueryResult<()> {
    record(conn, user_id, key, category_id, now)?;
    diesel::update(sender_memory::table.find((user_id, key)).filter(sender_memory::count.lt(threshold)))
        .set(sender_memory::count.eq(threshold))
        .execute(conn)
        .map(drop)
}
