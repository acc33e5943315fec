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
