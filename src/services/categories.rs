//! A user's categories: create, edit and delete them. Deleting never orphans an email: the person
//! chooses whether its emails move to another category or wait in *Needs review*.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;

use crate::db::categories::Category;
use crate::db::emails::ListFilter;
use crate::db::{self, DbConn};
use crate::error::{AppError, FieldError};
use crate::jobs::{self, EnqueueOptions, RelabelMessages};

pub const MAX_NAME_CHARS: usize = 60;
pub const MAX_DESCRIPTION_CHARS: usize = 1_000;
pub const MAX_CATEGORIES: usize = 100;

/// What the person typed for a category.
#[derive(Debug, Clone, Default)]
pub struct CategoryInput {
    pub name: String,
    pub description: String,
}

impl CategoryInput {
    /// The trimmed input, or every problem with it in plain words.
    fn validated(&self) -> Result<(String, String), AppError> {
        let (name, description) = (self.name.trim(), self.description.trim());
        let mut problems = Vec::new();
        if name.is_empty() {
            problems.push(FieldError { field: "name", message: "give the category a name".into() });
        } else if name.chars().count() > MAX_NAME_CHARS {
            problems.push(FieldError { field: "name", message: format!("use at most {MAX_NAME_CHARS} characters") });
        } else if name.chars().any(char::is_control) {
            problems.push(FieldError { field: "name", message: "use letters, digits and punctuation only".into() });
        }
        if description.is_empty() {
            problems.push(FieldError {
                field: "description",
                message: "describe in plain words which emails belong here; the sorter reads it".into(),
            });
        } else if description.chars().count() > MAX_DESCRIPTION_CHARS {
            problems.push(FieldError {
                field: "description",
                message: format!("use at most {MAX_DESCRIPTION_CHARS} characters"),
            });
        }
        if problems.is_empty() {
            Ok((name.to_owned(), description.to_owned()))
        } else {
            Err(AppError::Invalid(problems))
        }
    }
}

/// Where a deleted category's emails go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailsGoTo {
    Category(String),
    NeedsReview,
}

/// The user's category `id`, or `NotFound` (also for another user's category).
pub fn find_owned(conn: &mut DbConn, user_id: &str, id: &str) -> Result<Category, AppError> {
    db::categories::find(conn, id)?.filter(|c| c.user_id == user_id).ok_or(AppError::NotFound)
}

pub fn create(
    conn: &mut DbConn,
    user_id: &str,
    input: &CategoryInput,
    now: NaiveDateTime,
) -> Result<Category, AppError> {
    let (name, description) = input.validated()?;
    db::transaction(conn, |conn| {
        if db::categories::list_for_user(conn, user_id)?.len() >= MAX_CATEGORIES {
            return Err(AppError::invalid("name", format!("you can have at most {MAX_CATEGORIES} categories")));
        }
        ensure_name_free(conn, user_id, &name, None)?;
        let category = Category {
            id: db::new_id(),
            user_id: user_id.to_owned(),
            name_key: db::categories::name_key(&name),
            name,
            description,
            position: db::categories::next_position(conn, user_id)?,
            gmail_label_ids: "{}".into(),
            created_at: now,
            updated_at: now,
        };
        db::categories::insert(conn, &category)?;
        // Mail that waited because no category fitted gets another chance.
        crate::services::sorting::sort_waiting(conn, user_id, now)?;
        Ok(category)
    })
}

pub fn update(
    conn: &mut DbConn,
    user_id: &str,
    id: &str,
    input: &CategoryInput,
    now: NaiveDateTime,
) -> Result<Category, AppError> {
    let (name, description) = input.validated()?;
    db::transaction(conn, |conn| {
        let category = find_owned(conn, user_id, id)?;
        ensure_name_free(conn, user_id, &name, Some(id))?;
        db::categories::update(conn, id, &name, &description, now)?;
        Ok(Category { name_key: db::categories::name_key(&name), name, description, updated_at: now, ..category })
    })
}

/// Deletes the category after moving its emails; returns how many moved.
pub fn delete(
    conn: &mut DbConn,
    user_id: &str,
    id: &str,
    go_to: &EmailsGoTo,
    now: NaiveDateTime,
) -> Result<usize, AppError> {
    db::transaction(conn, |conn| {
        let category = find_owned(conn, user_id, id)?;
        let target = match go_to {
            EmailsGoTo::Category(target_id) if target_id == id => {
                return Err(AppError::invalid("emails", "choose another category for its emails"));
            }
            EmailsGoTo::Category(target_id) => Some(
                find_owned(conn, user_id, target_id)
                    .map_err(|_| AppError::invalid("emails", "that category does not exist"))?,
            ),
            EmailsGoTo::NeedsReview => None,
        };
        if let Some(target) = &target {
            relabel_archived(conn, &category, target, now)?;
        }
        let moved = db::emails::reassign_category(conn, id, target.as_ref().map(|t| t.id.as_str()), now)?;
        db::categories::delete(conn, id)?;
        Ok(moved)
    })
}

fn ensure_name_free(conn: &mut DbConn, user_id: &str, name: &str, except_id: Option<&str>) -> Result<(), AppError> {
    match db::categories::find_by_name(conn, user_id, name)? {
        Some(existing) if Some(existing.id.as_str()) != except_id => {
            Err(AppError::invalid("name", format!("you already have a category called “{}”", existing.name)))
        }
        _ => Ok(()),
    }
}

/// Archived mail carries the category's label in Gmail; the moved emails take the target's label.
fn relabel_archived(conn: &mut DbConn, from: &Category, to: &Category, now: NaiveDateTime) -> Result<(), AppError> {
    const CHUNK: i64 = 1_000;
    let mut after = String::new();
    loop {
        let ids = db::emails::ids_in_category(conn, &from.id, &ListFilter::default(), &after, CHUNK)?;
        let Some(last) = ids.last() else { return Ok(()) };
        after = last.clone();
        let mut by_mailbox: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for email in db::emails::list_owned(conn, &from.user_id, &ids)? {
            if email.state == "archived" {
                by_mailbox.entry(email.mailbox_id).or_default().push(email.id);
            }
        }
        for (mailbox_id, email_ids) in by_mailbox {
            let job = RelabelMessages {
                mailbox_id,
                email_ids,
                category: to.name.clone(),
                previous_categories: vec![from.name.clone()],
            };
            jobs::enqueue(conn, &job, EnqueueOptions::default(), now)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, description: &str) -> CategoryInput {
        CategoryInput { name: name.into(), description: description.into() }
    }

    #[test]
    fn input_is_trimmed_and_checked() {
        assert_eq!(
            input("  Receipts ", " Orders and invoices ").validated().ok(),
            Some(("Receipts".into(), "Orders and invoices".into()))
        );
        let Err(AppError::Invalid(problems)) = input(" ", "").validated() else { panic!("empty input accepted") };
        assert_eq!(problems.iter().map(|p| p.field).collect::<Vec<_>>(), ["name", "description"]);
        assert!(input(&"x".repeat(61), "d").validated().is_err());
        assert!(input("Bad\u{7}name", "d").validated().is_err());
        assert!(input("ok", &"d".repeat(1_001)).validated().is_err());
    }
}
