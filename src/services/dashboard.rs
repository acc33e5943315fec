//! The signed-in home: a user's connected accounts and categories with their email counts.

use std::collections::HashMap;

use crate::db::categories::Category;
use crate::db::mailboxes::Mailbox;
use crate::db::{self, DbConn};
use crate::error::AppError;

#[derive(Debug, Clone)]
pub struct Overview {
    pub mailboxes: Vec<Mailbox>,
    pub categories: Vec<(Category, i64)>,
}

pub fn overview(conn: &mut DbConn, user_id: &str) -> Result<Overview, AppError> {
    let mailboxes = db::mailboxes::list_for_user(conn, user_id)?;
    let categories = db::categories::list_for_user(conn, user_id)?;
    let ids: Vec<String> = categories.iter().map(|c| c.id.clone()).collect();
    let counts: HashMap<Option<String>, i64> = db::emails::count_by_category(conn, &ids)?.into_iter().collect();
    let categories = categories
        .into_iter()
        .map(|c| {
            let count = counts.get(&Some(c.id.clone())).copied().unwrap_or(0);
            (c, count)
        })
        .collect();
    Ok(Overview { mailboxes, categories })
}
