//! What admins see at a glance: every user and every mailbox, with counts. One query per table,
//! not one per row; the per-state email counts are kept by triggers, not counted.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::mailboxes::Mailbox;
use crate::db::schema::{mailboxes, users};
use crate::db::users::User;
use crate::db::{DbConn, QueryResult};

#[derive(Debug, Clone)]
pub struct UserLine {
    pub user: User,
    pub mailboxes: i64,
    pub emails: i64,
}

#[derive(Debug, Clone)]
pub struct MailboxLine {
    pub mailbox: Mailbox,
    pub owner: String,
    /// Emails per state.
    pub states: Vec<(String, i64)>,
}

#[derive(Debug, Clone)]
pub struct Overview {
    pub users: Vec<UserLine>,
    pub mailboxes: Vec<MailboxLine>,
}

pub fn overview(conn: &mut DbConn, limit: i64) -> QueryResult<Overview> {
    let user_rows: Vec<User> =
        users::table.order(users::created_at.desc()).limit(limit).select(User::as_select()).load(conn)?;
    let mailbox_rows: Vec<Mailbox> =
        mailboxes::table.order(mailboxes::created_at.desc()).limit(limit).select(Mailbox::as_select()).load(conn)?;
    // Kept counts, ordered by mailbox and state so the page reads the same on both backends.
    let per_mailbox_state = crate::db::mailbox_counts::totals(conn)?;
    let mut states: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    for (mailbox_id, state, count) in per_mailbox_state {
        states.entry(mailbox_id).or_default().push((state, count));
    }
    let emails_of = |id: &str| states.get(id).map_or(0, |s| s.iter().map(|(_, n)| n).sum::<i64>());
    let owners: HashMap<String, String> = user_rows.iter().map(|u| (u.id.clone(), u.email.clone())).collect();
    let mut per_user: HashMap<String, (i64, i64)> = HashMap::new();
    for mailbox in &mailbox_rows {
        let entry = per_user.entry(mailbox.user_id.clone()).or_default();
        entry.0 += 1;
        entry.1 += emails_of(&mailbox.id);
    }
    let users = user_rows
        .into_iter()
        .map(|user| {
            let (mailboxes, emails) = per_user.get(&user.id).copied().unwrap_or_default();
            UserLine { user, mailboxes, emails }
        })
        .collect();
    let mailboxes = mailbox_rows
        .into_iter()
        .map(|mailbox| MailboxLine {
            owner: owners.get(&mailbox.user_id).cloned().unwrap_or_default(),
            states: states.remove(&mailbox.id).unwrap_or_default(),
            mailbox,
        })
        .collect();
    Ok(Overview { users, mailboxes })
}
