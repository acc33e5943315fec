//! `sorter_models`: each user's local sorter, stored as JSON and replaced whole.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::sorter_models;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sorter_models)]
pub struct SorterModel {
    pub user_id: String,
    pub model: String,
    pub examples: i64,
    pub updated_at: NaiveDateTime,
}

pub fn find(conn: &mut DbConn, user_id: &str) -> QueryResult<Option<SorterModel>> {
    sorter_models::table.find(user_id).select(SorterModel::as_select()).first(conn).optional()
}

/// Inserts or replaces the user's model (call inside a transaction).
pub fn save(conn: &mut DbConn, model: &SorterModel) -> QueryResult<()> {
    let updated = diesel::update(sorter_models::table.find(&model.user_id))
        .set((
            sorter_models::model.eq(&model.model),
            sorter_models::examples.eq(model.examples),
            sorter_models::updated_at.eq(model.updated_at),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(sorter_models::table).values(model).execute(conn)?;
    }
    Ok(())
}
