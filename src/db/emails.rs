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
    /// The provider's labels (Gmail label ids), space-separated.
    pub labels: String,
    /// What could not be read from the message, in plain words; the email is stored anyway.
    pub parse_problems: Option<String>,
    /// The date lists order by: the message's own date, else when it arrived, else when it was found.
    pub listed_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, email: &Email) -> QueryResult<()> {
    diesel::insert_into(emails::table).values(email).execute(conn).map(drop)
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Email>> {
    emails::table.find(id).select(Email::as_select()).first(conn).optional()
}

/// The fields an import fills in, written once, while the email is still `discovered`.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = emails, treat_none_as_null = true)]
pub struct ImportedFields {
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
    pub labels: String,
    pub parse_problems: Option<String>,
    pub state: String,
    pub listed_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A new row for a message the provider reported, before its content is fetched.
pub fn discovered(mailbox_id: &str, provider_message_id: &str, now: NaiveDateTime) -> Email {
    Email {
        id: super::new_id(),
        mailbox_id: mailbox_id.to_owned(),
        provider_message_id: provider_message_id.to_owned(),
        thread_id: None,
        message_id_header: None,
        from_name: None,
        from_address: None,
        to_addresses: String::new(),
        subject: String::new(),
        sent_at: None,
        received_at: None,
        snippet: String::new(),
        text_body: None,
        sanitized_html: None,
        raw_size: 0,
        list_id: None,
        list_unsubscribe_urls: "[]".into(),
        is_one_click: false,
        auth_result: None,
        state: "discovered".into(),
        category_id: None,
        sort_source: None,
        confidence: None,
        summary: None,
        archived_at: None,
        trashed_at: None,
        is_after_unsubscribe: false,
        created_at: now,
        updated_at: now,
        labels: String::new(),
        parse_problems: None,
        listed_at: now,
    }
}

/// Inserts a discovered email unless the mailbox already has that message; `true` when inserted.
pub fn insert_if_new(conn: &mut DbConn, email: &Email) -> QueryResult<bool> {
    // ON CONFLICT is not available through the multi-backend, so each backend runs the same statement.
    let inserted = match conn {
        DbConn::Pg(c) => diesel::insert_into(emails::table).values(email).on_conflict_do_nothing().execute(c)?,
        DbConn::Sqlite(c) => diesel::insert_into(emails::table).values(email).on_conflict_do_nothing().execute(c)?,
    };
    Ok(inserted == 1)
}

pub fn find_by_provider_id(conn: &mut DbConn, mailbox_id: &str, provider_id: &str) -> QueryResult<Option<Email>> {
    emails::table
        .filter(emails::mailbox_id.eq(mailbox_id))
        .filter(emails::provider_message_id.eq(provider_id))
        .select(Email::as_select())
        .first(conn)
        .optional()
}

/// Fills in an import; only a still-`discovered` email changes, so a second run changes nothing.
pub fn store_import(
    conn: &mut DbConn,
    mailbox_id: &str,
    provider_id: &str,
    fields: &ImportedFields,
) -> QueryResult<usize> {
    diesel::update(
        emails::table
            .filter(emails::mailbox_id.eq(mailbox_id))
            .filter(emails::provider_message_id.eq(provider_id))
            .filter(emails::state.eq("discovered")),
    )
    .set(fields)
    .execute(conn)
}

/// (state, count) of a mailbox's emails.
/// A mailbox's emails still on their way (discovered, imported or sorted but not archived), per
/// state: a few index ranges, however much mail the mailbox has archived.
pub fn count_in_pipeline(conn: &mut DbConn, mailbox_id: &str) -> QueryResult<Vec<(String, i64)>> {
    emails::table
        .filter(emails::mailbox_id.eq(mailbox_id))
        .filter(emails::state.eq_any(["discovered", "imported", "sorted"]))
        .group_by(emails::state)
        .select((emails::state, diesel::dsl::count_star()))
        .load(conn)
}

pub fn count_by_state(conn: &mut DbConn, mailbox_id: &str) -> QueryResult<Vec<(String, i64)>> {
    emails::table
        .filter(emails::mailbox_id.eq(mailbox_id))
        .group_by(emails::state)
        .select((emails::state, diesel::dsl::count_star()))
        .load(conn)
}

pub fn list_for_mailbox(conn: &mut DbConn, mailbox_id: &str) -> QueryResult<Vec<Email>> {
    emails::table
        .filter(emails::mailbox_id.eq(mailbox_id))
        .order(emails::provider_message_id.asc())
        .select(Email::as_select())
        .load(conn)
}

/// Emails of a mailbox first seen at or after `since`.
pub fn count_discovered_since(conn: &mut DbConn, mailbox_id: &str, since: NaiveDateTime) -> QueryResult<i64> {
    emails::table
        .filter(emails::mailbox_id.eq(mailbox_id))
        .filter(emails::created_at.ge(since))
        .count()
        .get_result(conn)
}

/// The given emails of a mailbox that are sorted into a category, with its name: the only ones
/// that may be archived.
pub fn list_sorted_with_category(
    conn: &mut DbConn,
    mailbox_id: &str,
    ids: &[String],
) -> QueryResult<Vec<(Email, String)>> {
    use super::schema::categories;
    emails::table
        .inner_join(categories::table)
        .filter(emails::mailbox_id.eq(mailbox_id))
        .filter(emails::id.eq_any(ids))
        .filter(emails::state.eq("sorted"))
        .select((Email::as_select(), categories::name))
        .load(conn)
}

/// Marks sorted emails archived; emails in any other state are left alone.
pub fn mark_archived(
    conn: &mut DbConn,
    ids: &[String],
    is_out_of_inbox: bool,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(emails::table.filter(emails::id.eq_any(ids)).filter(emails::state.eq("sorted")))
        .set((
            emails::state.eq("archived"),
            emails::archived_at.eq(is_out_of_inbox.then_some(now)),
            emails::updated_at.eq(now),
        ))
        .execute(conn)
}

/// The given emails, only those in `user_id`'s mailboxes.
pub fn list_owned(conn: &mut DbConn, user_id: &str, ids: &[String]) -> QueryResult<Vec<Email>> {
    use super::schema::mailboxes;
    emails::table
        .inner_join(mailboxes::table)
        .filter(mailboxes::user_id.eq(user_id))
        .filter(emails::id.eq_any(ids))
        .select(Email::as_select())
        .load(conn)
}

/// The given emails of one mailbox.
pub fn list_in_mailbox(conn: &mut DbConn, mailbox_id: &str, ids: &[String]) -> QueryResult<Vec<Email>> {
    emails::table
        .filter(emails::mailbox_id.eq(mailbox_id))
        .filter(emails::id.eq_any(ids))
        .select(Email::as_select())
        .load(conn)
}

/// Records a delete (`Some(now)`) or its undo (`None`).
pub fn set_trashed(
    conn: &mut DbConn,
    ids: &[String],
    trashed_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(emails::table.filter(emails::id.eq_any(ids)))
        .set((emails::trashed_at.eq(trashed_at), emails::updated_at.eq(now)))
        .execute(conn)
}

/// A user's deleted emails since `since`, newest deletion first.
pub fn list_trashed(conn: &mut DbConn, user_id: &str, since: NaiveDateTime, limit: i64) -> QueryResult<Vec<Email>> {
    use super::schema::mailboxes;
    emails::table
        .inner_join(mailboxes::table)
        .filter(mailboxes::user_id.eq(user_id))
        .filter(emails::trashed_at.gt(since))
        .order((emails::trashed_at.desc(), emails::id))
        .limit(limit)
        .select(Email::as_select())
        .load(conn)
}

/// Benchmarks only: puts every imported email of a mailbox into one category; returns their ids.
pub fn sort_all_for_bench(conn: &mut DbConn, mailbox_id: &str, category_id: &str) -> QueryResult<Vec<String>> {
    diesel::update(emails::table.filter(emails::mailbox_id.eq(mailbox_id)).filter(emails::state.eq("imported")))
        .set((emails::state.eq("sorted"), emails::category_id.eq(category_id)))
        .execute(conn)?;
    emails::table.filter(emails::mailbox_id.eq(mailbox_id)).select(emails::id).load(conn)
}

/// A mailbox's emails in one state, oldest first (the sorter's and archiver's work lists).
pub fn list_in_state(conn: &mut DbConn, mailbox_id: &str, state: &str, limit: i64) -> QueryResult<Vec<Email>> {
    emails::table
        .filter(emails::mailbox_id.eq(mailbox_id))
        .filter(emails::state.eq(state))
        .filter(emails::trashed_at.is_null())
        .order((emails::created_at.asc(), emails::id.asc()))
        .limit(limit)
        .select(Email::as_select())
        .load(conn)
}

/// Mailboxes with imported emails waiting to be sorted.
pub fn mailboxes_with_unsorted(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    emails::table.filter(emails::state.eq("imported")).select(emails::mailbox_id).distinct().load(conn)
}

/// Active mailboxes with sorted emails not archived yet.
pub fn mailboxes_with_unarchived(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    use super::schema::mailboxes;
    emails::table
        .inner_join(mailboxes::table)
        .filter(mailboxes::status.eq("active"))
        .filter(emails::state.eq("sorted"))
        .filter(emails::trashed_at.is_null())
        .select(emails::mailbox_id)
        .distinct()
        .load(conn)
}

/// A sorting decision, written only while the email is still in `from_state`; `true` when written.
#[allow(clippy::too_many_arguments)]
pub fn record_decision(
    conn: &mut DbConn,
    id: &str,
    from_state: &str,
    state: &str,
    category_id: Option<&str>,
    source: &str,
    confidence: f64,
    summary: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let updated = diesel::update(emails::table.find(id).filter(emails::state.eq(from_state)))
        .set((
            emails::state.eq(state),
            emails::category_id.eq(category_id),
            emails::sort_source.eq(source),
            emails::confidence.eq(confidence),
            emails::summary.eq(summary),
            emails::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Every sorted (not yet archived) email of a mailbox with its category's name, up to `limit`.
pub fn list_all_sorted_with_category(
    conn: &mut DbConn,
    mailbox_id: &str,
    limit: i64,
) -> QueryResult<Vec<(Email, String)>> {
    use super::schema::categories;
    emails::table
        .inner_join(categories::table)
        .filter(emails::mailbox_id.eq(mailbox_id))
        .filter(emails::state.eq("sorted"))
        .filter(emails::trashed_at.is_null())
        .order(emails::id.asc())
        .limit(limit)
        .select((Email::as_select(), categories::name))
        .load(conn)
}

/// The person's own decision: their category, certain, keeping the summary.
pub fn record_user_decision(
    conn: &mut DbConn,
    id: &str,
    state: &str,
    category_id: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(emails::table.find(id))
        .set((
            emails::state.eq(state),
            emails::category_id.eq(category_id),
            emails::sort_source.eq("you"),
            emails::confidence.eq(1.0),
            emails::updated_at.eq(now),
        ))
        .execute(conn)
}

/// The rows after a list position, newest first (keyset paging). The first condition alone starts
/// the index range at the cursor; without it PostgreSQL reads every row before the cursor and
/// filters them out. A macro: the review list and the category list query different table sources.
macro_rules! after_position {
    ($after:expr) => {
        emails::listed_at.le($after.listed_at).and(
            emails::listed_at
                .lt($after.listed_at)
                .or(emails::listed_at.eq($after.listed_at).and(emails::id.lt($after.id.clone()))),
        )
    };
}

/// Every column of `Email`, in order, with NULL for the two bodies (lists that show no bodies).
macro_rules! columns_without_bodies {
    () => {{
        let none = || diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Text>>("NULL");
        (
            emails::id,
            emails::mailbox_id,
            emails::provider_message_id,
            emails::thread_id,
            emails::message_id_header,
            emails::from_name,
            emails::from_address,
            emails::to_addresses,
            emails::subject,
            emails::sent_at,
            emails::received_at,
            emails::snippet,
            none(),
            none(),
            emails::raw_size,
            emails::list_id,
            emails::list_unsubscribe_urls,
            emails::is_one_click,
            emails::auth_result,
            emails::state,
            emails::category_id,
            emails::sort_source,
            emails::confidence,
            emails::summary,
            emails::archived_at,
            emails::trashed_at,
            emails::is_after_unsubscribe,
            emails::created_at,
            emails::updated_at,
            emails::labels,
            emails::parse_problems,
            emails::listed_at,
        )
    }};
}

/// One page of a user's emails waiting for review, newest first by list date, after `after` (keyset
/// paging, the same order and cursor as a category's list).
pub fn list_needing_review_after(
    conn: &mut DbConn,
    user_id: &str,
    after: Option<&ListPosition>,
    limit: i64,
    bodies: Bodies,
) -> QueryResult<Vec<Email>> {
    use super::schema::mailboxes;
    let mut query = emails::table
        .inner_join(mailboxes::table)
        .filter(mailboxes::user_id.eq(user_id))
        .filter(emails::state.eq("needs_review"))
        .filter(emails::trashed_at.is_null())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(after_position!(after));
    }
    // The page is chosen from the `emails_review` index alone, then only its rows are read: with
    // several accounts the order needs a sort, and sorting whole rows (bodies included) is slow.
    let ids: Vec<String> =
        query.order((emails::listed_at.desc(), emails::id.desc())).limit(limit).select(emails::id).load(conn)?;
    let rows = emails::table.filter(emails::id.eq_any(&ids));
    let mut page: Vec<Email> = match bodies {
        Bodies::Loaded => rows.select(Email::as_select()).load(conn)?,
        Bodies::Left => rows.select(columns_without_bodies!()).load(conn)?,
    };
    page.sort_by(|a, b| (b.listed_at, &b.id).cmp(&(a.listed_at, &a.id)));
    Ok(page)
}

/// A user's most recently stored emails (any sorting state), newest first.
pub fn list_recent_for_user(conn: &mut DbConn, user_id: &str, limit: i64) -> QueryResult<Vec<Email>> {
    use super::schema::mailboxes;
    emails::table
        .inner_join(mailboxes::table)
        .filter(mailboxes::user_id.eq(user_id))
        .filter(emails::state.ne("discovered"))
        .filter(emails::trashed_at.is_null())
        .order((emails::created_at.desc(), emails::id))
        .limit(limit)
        .select(Email::as_select())
        .load(conn)
}

/// A user's emails sorted by a sorter (not by the person) since `since`, after `after_id`, by id.
pub fn list_resortable(
    conn: &mut DbConn,
    user_id: &str,
    since: NaiveDateTime,
    after_id: &str,
    limit: i64,
) -> QueryResult<Vec<Email>> {
    use super::schema::mailboxes;
    emails::table
        .inner_join(mailboxes::table)
        .filter(mailboxes::user_id.eq(user_id))
        .filter(emails::created_at.ge(since))
        .filter(emails::state.eq_any(["sorted", "archived", "needs_review"]))
        .filter(emails::sort_source.ne("you").or(emails::sort_source.is_null()))
        .filter(emails::trashed_at.is_null())
        .filter(emails::id.gt(after_id))
        .order(emails::id.asc())
        .limit(limit)
        .select(Email::as_select())
        .load(conn)
}

pub fn count_resortable(conn: &mut DbConn, user_id: &str, since: NaiveDateTime) -> QueryResult<i64> {
    use super::schema::mailboxes;
    emails::table
        .inner_join(mailboxes::table)
        .filter(mailboxes::user_id.eq(user_id))
        .filter(emails::created_at.ge(since))
        .filter(emails::state.eq_any(["sorted", "archived", "needs_review"]))
        .filter(emails::sort_source.ne("you").or(emails::sort_source.is_null()))
        .filter(emails::trashed_at.is_null())
        .count()
        .get_result(conn)
}

/// A re-sort's new decision for an email that was sorted before.
pub fn record_resort(
    conn: &mut DbConn,
    id: &str,
    state: &str,
    category_id: &str,
    source: &str,
    confidence: f64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(emails::table.find(id))
        .set((
            emails::state.eq(state),
            emails::category_id.eq(category_id),
            emails::sort_source.eq(source),
            emails::confidence.eq(confidence),
            emails::updated_at.eq(now),
        ))
        .execute(conn)
}

/// What the category list is narrowed to: one account, and text in the sender, subject or summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub mailbox_id: Option<String>,
    pub text: Option<String>,
}

impl ListFilter {
    /// The text to look for, when there is any besides spaces.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref().map(str::trim).filter(|t| !t.is_empty())
    }

    pub fn is_empty(&self) -> bool {
        self.mailbox_id.is_none() && self.text().is_none()
    }
}

/// What a category page's row shows of an email, and its place in the list. A page reads fifty of
/// these per request: without the other twenty columns (headers, bodies, six more dates) it costs a
/// fraction of the full `Email` to read from SQLite.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = emails)]
pub struct ListedEmail {
    pub id: String,
    pub mailbox_id: String,
    pub from_name: Option<String>,
    pub from_address: Option<String>,
    pub subject: String,
    pub list_id: Option<String>,
    pub sort_source: Option<String>,
    pub confidence: Option<f64>,
    pub summary: Option<String>,
    #[diesel(select_expression = emails::archived_at.is_not_null())]
    #[diesel(select_expression_type = diesel::dsl::IsNotNull<emails::archived_at>)]
    pub is_archived: bool,
    pub is_after_unsubscribe: bool,
    pub listed_at: NaiveDateTime,
}

/// A place in a list ordered newest first: the last row's list date and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPosition {
    pub listed_at: NaiveDateTime,
    pub id: String,
}

diesel::define_sql_function!(fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text);
diesel::define_sql_function!(fn coalesce(text: diesel::sql_types::Nullable<diesel::sql_types::Text>, otherwise: diesel::sql_types::Text) -> diesel::sql_types::Text);

type Backend = <DbConn as diesel::Connection>::Backend;

/// A category's emails (not deleted) matching the filter, as a boxed query the callers narrow further.
fn in_category<'a>(
    backend: super::Backend,
    category_id: &'a str,
    filter: &'a ListFilter,
) -> emails::BoxedQuery<'a, Backend> {
    let mut query =
        emails::table.filter(emails::category_id.eq(category_id)).filter(emails::trashed_at.is_null()).into_boxed();
    if let Some(mailbox_id) = &filter.mailbox_id {
        query = query.filter(emails::mailbox_id.eq(mailbox_id));
    }
    let Some(text) = filter.text() else { return query };
    if backend == super::Backend::Sqlite && text.chars().count() >= TRIGRAM {
        // The trigram index finds the substring; a quoted phrase is matched literally.
        let phrase = format!("\"{}\"", text.replace('"', "\"\""));
        return query.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>(
                "\"emails\".rowid IN (SELECT rowid FROM email_search WHERE email_search MATCH ",
            )
            .bind::<diesel::sql_types::Text, _>(phrase)
            .sql(")"),
        );
    }
    let pattern = format!("%{}%", escape_like(&text.to_lowercase()));
    if backend == super::Backend::Postgres {
        // Word for word the expression of the `emails_search_text` trigram index (migrations 000011, 000012).
        return query.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>(
                "lower(subject || E'\\n' || COALESCE(from_name, '') || E'\\n' || COALESCE(from_address, '') \
                 || E'\\n' || COALESCE(summary, '')) LIKE ",
            )
            .bind::<diesel::sql_types::Text, _>(pattern)
            .sql(" ESCAPE '\\'"),
        );
    }
    query.filter(
        lower(emails::subject)
            .like(pattern.clone())
            .escape('\\')
            .or(lower(coalesce(emails::from_address, "")).like(pattern.clone()).escape('\\'))
            .or(lower(coalesce(emails::from_name, "")).like(pattern.clone()).escape('\\'))
            .or(lower(coalesce(emails::summary, "")).like(pattern).escape('\\')),
    )
}

/// The shortest text the trigram index can look up; shorter text is matched row by row.
const TRIGRAM: usize = 3;

/// `%` and `_` typed by the person are matched literally.
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// A category's emails matching the filter, newest first, after `after`, at most `limit`.
fn page_in_category<'a>(
    backend: super::Backend,
    category_id: &'a str,
    filter: &'a ListFilter,
    after: Option<&ListPosition>,
    limit: i64,
) -> emails::BoxedQuery<'a, Backend> {
    let mut query = in_category(backend, category_id, filter);
    if let Some(after) = after {
        query = query.filter(after_position!(after));
    }
    query.order((emails::listed_at.desc(), emails::id.desc())).limit(limit)
}

/// One page of a category's emails, newest first, after `after` (keyset paging: as fast on the
/// thousandth page as on the first, through the `emails_category_list` index).
pub fn list_in_category(
    conn: &mut DbConn,
    category_id: &str,
    filter: &ListFilter,
    after: Option<&ListPosition>,
    limit: i64,
    bodies: Bodies,
) -> QueryResult<Vec<Email>> {
    let query = page_in_category(conn.backend(), category_id, filter, after, limit);
    match bodies {
        Bodies::Loaded => query.select(Email::as_select()).load(conn),
        Bodies::Left => query.select(columns_without_bodies!()).load::<Email>(conn),
    }
}

/// The first page of a category's emails with how many match the filter in all, in one query.
/// For a text filter: the list and a separate count would each look the text up in the index.
pub fn list_first_in_category_counted(
    conn: &mut DbConn,
    category_id: &str,
    filter: &ListFilter,
    limit: i64,
    bodies: Bodies,
) -> QueryResult<(Vec<Email>, i64)> {
    let query = page_in_category(conn.backend(), category_id, filter, None, limit);
    let rows: Vec<(Email, i64)> = match bodies {
        Bodies::Loaded => query.select((Email::as_select(), window_total())).load(conn)?,
        Bodies::Left => query.select((columns_without_bodies!(), window_total())).load(conn)?,
    };
    Ok(without_totals(rows))
}

/// How many rows match in all, on every row of the page: the window counts before the limit.
fn window_total() -> diesel::expression::SqlLiteral<diesel::sql_types::BigInt> {
    diesel::dsl::sql::<diesel::sql_types::BigInt>("COUNT(*) OVER ()")
}

/// The page's rows and the total that each of them carries.
fn without_totals<E>(rows: Vec<(E, i64)>) -> (Vec<E>, i64) {
    let total = rows.first().map_or(0, |(_, total)| *total);
    (rows.into_iter().map(|(row, _)| row).collect(), total)
}

/// One page of a category's rows as a page shows them (see `list_in_category`).
pub fn list_listed_in_category(
    conn: &mut DbConn,
    category_id: &str,
    filter: &ListFilter,
    after: Option<&ListPosition>,
    limit: i64,
) -> QueryResult<Vec<ListedEmail>> {
    page_in_category(conn.backend(), category_id, filter, after, limit).select(ListedEmail::as_select()).load(conn)
}

/// The first page of a category's rows as a page shows them, with the total (see
/// `list_first_in_category_counted`).
pub fn list_first_listed_in_category_counted(
    conn: &mut DbConn,
    category_id: &str,
    filter: &ListFilter,
    limit: i64,
) -> QueryResult<(Vec<ListedEmail>, i64)> {
    let rows: Vec<(ListedEmail, i64)> = page_in_category(conn.backend(), category_id, filter, None, limit)
        .select((ListedEmail::as_select(), window_total()))
        .load(conn)?;
    Ok(without_totals(rows))
}

/// Whether a list loads each email's bodies (text and sanitized HTML). Only the email page and API
/// clients that ask for them need bodies; fifty real emails can carry megabytes of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bodies {
    Loaded,
    /// `text_body` and `sanitized_html` are left `None`.
    Left,
}

/// How many of a category's emails match the filter.
pub fn count_in_category(conn: &mut DbConn, category_id: &str, filter: &ListFilter) -> QueryResult<i64> {
    in_category(conn.backend(), category_id, filter).count().get_result(conn)
}

/// The ids of every email in a category that matches the filter ("select all"), `limit` at a time
/// after `after_id`, in id order.
pub fn ids_in_category(
    conn: &mut DbConn,
    category_id: &str,
    filter: &ListFilter,
    after_id: &str,
    limit: i64,
) -> QueryResult<Vec<String>> {
    in_category(conn.backend(), category_id, filter)
        .filter(emails::id.gt(after_id))
        .order(emails::id.asc())
        .limit(limit)
        .select(emails::id)
        .load(conn)
}

/// Emails per category dated `since` or later (the "new" count on the dashboard cards): a range
/// of the `emails_category_list` index per category. The message's own date, not when it was
/// imported, so a backfill of old mail is not "new".
pub fn count_new_by_category(
    conn: &mut DbConn,
    category_ids: &[String],
    since: NaiveDateTime,
) -> QueryResult<Vec<(Option<String>, i64)>> {
    emails::table
        .filter(emails::category_id.eq_any(category_ids))
        .filter(emails::trashed_at.is_null())
        .filter(emails::listed_at.ge(since))
        .group_by(emails::category_id)
        .select((emails::category_id, diesel::dsl::count_star()))
        .load(conn)
}

/// A user's emails in *Needs review*.
pub fn count_needing_review(conn: &mut DbConn, user_id: &str) -> QueryResult<i64> {
    use super::schema::mailboxes;
    emails::table
        .inner_join(mailboxes::table)
        .filter(mailboxes::user_id.eq(user_id))
        .filter(emails::state.eq("needs_review"))
        .filter(emails::trashed_at.is_null())
        .count()
        .get_result(conn)
}

/// Moves every email of a deleted category: to another category, or (with `None`) to *Needs review*.
pub fn reassign_category(
    conn: &mut DbConn,
    from_category_id: &str,
    to_category_id: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let query = emails::table.filter(emails::category_id.eq(from_category_id));
    match to_category_id {
        Some(to) => diesel::update(query).set((emails::category_id.eq(to), emails::updated_at.eq(now))).execute(conn),
        None => diesel::update(query)
            .set((
                emails::category_id.eq(None::<String>),
                emails::state.eq("needs_review"),
                emails::sort_source.eq(None::<String>),
                emails::confidence.eq(None::<f64>),
                emails::updated_at.eq(now),
            ))
            .execute(conn),
    }
}

/// The ids of a user's emails deleted at exactly `at` (one bulk delete, for its Undo).
pub fn ids_trashed_at(conn: &mut DbConn, user_id: &str, at: NaiveDateTime) -> QueryResult<Vec<String>> {
    use super::schema::mailboxes;
    emails::table
        .inner_join(mailboxes::table)
        .filter(mailboxes::user_id.eq(user_id))
        .filter(emails::trashed_at.eq(at))
        .select(emails::id)
        .load(conn)
}

/// Which of these provider ids the mailbox has recorded but not imported yet.
pub fn still_discovered(conn: &mut DbConn, mailbox_id: &str, provider_ids: &[String]) -> QueryResult<Vec<String>> {
    emails::table
        .filter(emails::mailbox_id.eq(mailbox_id))
        .filter(emails::provider_message_id.eq_any(provider_ids))
        .filter(emails::state.eq("discovered"))
        .select(emails::provider_message_id)
        .load(conn)
}

/// The emails of a mailbox with these provider ids.
pub fn list_by_provider_ids(conn: &mut DbConn, mailbox_id: &str, provider_ids: &[String]) -> QueryResult<Vec<Email>> {
    emails::table
        .filter(emails::mailbox_id.eq(mailbox_id))
        .filter(emails::provider_message_id.eq_any(provider_ids))
        .select(Email::as_select())
        .load(conn)
}

/// Flags mail that arrived after its subscription was left.
pub fn mark_after_unsubscribe(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(emails::table.find(id))
        .set((emails::is_after_unsubscribe.eq(true), emails::updated_at.eq(now)))
        .execute(conn)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use diesel::connection::{Instrumentation, InstrumentationEvent};
    use diesel::{Connection as _, QueryableByName, SqliteConnection};

    use super::*;

    #[derive(QueryableByName)]
    struct PlanStep {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }

    /// How SQLite runs each statement that `query` sends: their `EXPLAIN QUERY PLAN` steps.
    fn sqlite_plans(query: impl FnOnce(&mut DbConn)) -> Vec<Vec<String>> {
        let mut conn = DbConn::Sqlite(SqliteConnection::establish(":memory:").expect("in-memory SQLite"));
        crate::db::migrations::run_pending(&mut conn).expect("migrations");
        let sent = Arc::new(Mutex::new(Vec::new()));
        let seen = sent.clone();
        let capture = move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::StartQuery { query, .. } = event {
                seen.lock().expect("lock").push(query.to_string());
            }
        };
        conn.set_instrumentation(Box::new(capture) as Box<dyn Instrumentation>);
        query(&mut conn);
        let sent = std::mem::take(&mut *sent.lock().expect("lock"));
        assert!(!sent.is_empty(), "a query was sent");
        sent.iter()
            .map(|sql| {
                let sql = sql.split(" -- binds:").next().unwrap_or_default();
                let steps: Vec<PlanStep> =
                    diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}")).load(&mut conn).expect("query plan");
                steps.into_iter().map(|s| s.detail).collect()
            })
            .collect()
    }

    fn sqlite_plan(query: impl FnOnce(&mut DbConn)) -> Vec<String> {
        sqlite_plans(query).concat()
    }

    /// The category page's rows come from the list indexes alone: with real mail's bodies in the
    /// row, reading the table walked each row's overflow pages (migration 000013).
    #[test]
    fn the_category_pages_rows_are_read_from_a_covering_index_on_sqlite() {
        let after = ListPosition { listed_at: chrono::NaiveDateTime::default(), id: "x".into() };
        for (filter, index) in [
            (ListFilter::default(), "emails_category_list"),
            (ListFilter { mailbox_id: Some("m".into()), text: None }, "emails_category_account"),
        ] {
            for after in [None, Some(&after)] {
                let plan = sqlite_plan(|conn| {
                    list_listed_in_category(conn, "c", &filter, after, 51).expect("list");
                });
                let expected = format!("USING COVERING INDEX {index}");
                assert!(plan.iter().any(|step| step.contains(&expected)), "{filter:?} {after:?}: {plan:?}");
                assert!(!plan.iter().any(|step| step.contains("TEMP B-TREE")), "no sort: {plan:?}");
            }
        }
    }

    /// Needs review is chosen and counted from its index alone: the page's rows are read after.
    #[test]
    fn the_review_page_is_chosen_and_counted_from_its_index_on_sqlite() {
        let chosen = sqlite_plans(|conn| {
            list_needing_review_after(conn, "u", None, 51, Bodies::Left).expect("list");
        });
        let counted = sqlite_plan(|conn| {
            count_needing_review(conn, "u").expect("count");
        });
        for plan in [&chosen[0], &counted] {
            assert!(plan.iter().any(|step| step.contains("USING COVERING INDEX emails_review")), "{plan:?}");
        }
    }
}
