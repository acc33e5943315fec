//! `categories`: a user's sorting buckets, a name and a plain-words description.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::categories;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = categories)]
pub struct Category {
    pub id: String,
    pub user_id: String,
    pub name: String,
    /// The lower-cased name, unique per user, so names are unique regardless of case on both backends.
    pub name_key: String,
    pub description: String,
    pub position: i64,
    pub gmail_label_ids: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, category: &Category) -> QueryResult<()> {
    diesel::insert_into(categories::table).values(category).execute(conn).map(drop)
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Category>> {
    categories::table.find(id).select(Category::as_select()).first(conn).optional()
}

pub fn list_for_user(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<Category>> {
    categories::table
        .filter(categories::user_id.eq(user_id))
        .order((categories::position.asc(), categories::name_key.asc()))
        .select(Category::as_select())
        .load(conn)
}

/// A new name and description for a category.
pub fn update(conn: &mut DbConn, id: &str, name: &str, description: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(categories::table.find(id))
        .set((
            categories::name.eq(name),
            categories::name_key.eq(name_key(name)),
            categories::description.eq(description),
            categories::updated_at.eq(now),
        ))
        .execute(conn)
}

pub fn delete(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::delete(categories::table.find(id)).execute(conn)
}

/// The user's category with this name regardless of case, if any.
pub fn find_by_name(conn: &mut DbConn, user_id: &str, name: &str) -> QueryResult<Option<Category>> {
    categories::table
        .filter(categories::user_id.eq(user_id))
        .filter(categories::name_key.eq(name_key(name)))
        .select(Category::as_select())
        .first(conn)
        .optional()
}

/// The position after the user's last category.
pub fn next_position(conn: &mut DbConn, user_id: &str) -> QueryResult<i64> {
    let last: Option<i64> = categories::table
        .filter(categories::user_id.eq(user_id))
        .select(diesel::dsl::max(categories::position))
        .first(conn)?;
    Ok(last.map_or(0, |p| p + 1))
}

/// The key that makes names unique per user regardless of case.
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}
