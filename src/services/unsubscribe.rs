//! Unsubscribing, the use cases: a bulk request (one attempt and one job per subscription, after
//! the ownership and authentication checks), the job's preparation and recording of the outcome,
//! what the pages read (attempts of an email, the user's subscriptions), the "arrived after
//! unsubscribe" flag on import, and the per-subscription "send to Trash when ignored" choice.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;

use crate::db::emails::Email;
use crate::db::subscriptions::Subscription;
use crate::db::unsubscribe_attempts::{Finished, UnsubscribeAttempt};
use crate::db::{self, DbConn};
use crate::domain::unsubscribe::{self as rules, GRACE_PERIOD, Method, Status, Target};
use crate::domain::unsubscribe_links;
use crate::error::AppError;
use crate::jobs::{self, EnqueueOptions, unsubscribe::UnsubscribeSubscription};

/// How far back the subscription list counts mail.
pub const VOLUME_WINDOW: chrono::Duration = chrono::Duration::days(30);

/// Why a selected email was not acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// No DKIM pass in Authentication-Results: acting would confirm the address to a forger.
    NotAuthenticated,
    /// Sorted as spam (a Spam/Junk category or the provider's SPAM label).
    MarkedSpam,
    /// Neither List-Id nor a sender address to group it by.
    NoSender,
    /// An attempt for its subscription is already waiting or running.
    AlreadyInProgress,
}

impl SkipReason {
    pub fn describe(self) -> &'static str {
        match self {
            SkipReason::NotAuthenticated => {
                "the sender is not authenticated (no DKIM pass); unsubscribing could confirm your address to a spammer"
            }
            SkipReason::MarkedSpam => "it was sorted as spam; unsubscribing could confirm your address to a spammer",
            SkipReason::NoSender => "it has no list or sender to unsubscribe from",
            SkipReason::AlreadyInProgress => "an unsubscribe for this sender is already under way",
        }
    }

    /// Whether insisting overrides it.
    pub fn is_overridable(self) -> bool {
        matches!(self, SkipReason::NotAuthenticated | SkipReason::MarkedSpam)
    }
}

/// One subscription an attempt was started for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedAttempt {
    pub attempt_id: String,
    pub subscription_id: String,
    pub display_name: String,
    /// How many of the selected emails belong to it.
    pub email_count: usize,
}

/// What a bulk request did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestSummary {
    pub started: Vec<StartedAttempt>,
    /// (email id, why it was left alone).
    pub skipped: Vec<(String, SkipReason)>,
}

/// Asks to unsubscribe from the subscriptions of the user's emails among `email_ids` (others are
/// ignored, as if not found). One attempt and one job per subscription; unauthenticated or spam
/// mail is skipped unless `insist`.
pub fn request(
    conn: &mut DbConn,
    user_id: &str,
    email_ids: &[String],
    insist: bool,
    now: NaiveDateTime,
) -> Result<RequestSummary, AppError> {
    db::transaction(conn, |conn| {
        let emails = db::emails::list_owned(conn, user_id, email_ids)?;
        let spam_categories: Vec<String> = db::categories::list_for_user(conn, user_id)?
            .into_iter()
            .filter(|c| matches!(c.name.trim().to_lowercase().as_str(), "spam" | "junk"))
            .map(|c| c.id)
            .collect();
        let mut summary = RequestSummary::default();
        let mut groups: BTreeMap<String, Vec<Email>> = BTreeMap::new();
        for email in emails {
            let is_spam = email.category_id.as_ref().is_some_and(|c| spam_categories.contains(c))
                || email.labels.split(' ').any(|l| l == "SPAM");
            let Some(key) = rules::subscription_key(email.list_id.as_deref(), email.from_address.as_deref()) else {
                summary.skipped.push((email.id, SkipReason::NoSender));
                continue;
            };
            if !insist && is_spam {
                summary.skipped.push((email.id, SkipReason::MarkedSpam));
            } else if !insist && !rules::has_dkim_pass(email.auth_result.as_deref()) {
                summary.skipped.push((email.id, SkipReason::NotAuthenticated));
            } else {
                groups.entry(key).or_default().push(email);
            }
        }
        for (key, emails) in groups {
            let subscription = ensure_subscription(conn, user_id, &key, &emails, now)?;
            let source = pick_source(&emails);
            let attempt = UnsubscribeAttempt {
                id: db::new_id(),
                user_id: user_id.to_owned(),
                subscription_key: key.clone(),
                email_id: Some(source.id.clone()),
                method: "pending".into(),
                url: None,
                status: Status::Pending.as_str().into(),
                reason: None,
                steps: "[]".into(),
                screenshot_path: None,
                started_at: None,
                finished_at: None,
                created_at: now,
            };
            let job = UnsubscribeSubscription { attempt_id: attempt.id.clone() };
            let options = EnqueueOptions {
                unique_key: Some(UnsubscribeSubscription::unique_key(&subscription.id)),
                ..Default::default()
            };
            // The attempt row goes in first; it is removed again when a job for the subscription already waits.
            db::unsubscribe_attempts::insert(conn, &attempt)?;
            if jobs::enqueue(conn, &job, options, now)?.is_none() {
                db::unsubscribe_attempts::delete(conn, &attempt.id)?;
                summary.skipped.extend(emails.into_iter().map(|e| (e.id, SkipReason::AlreadyInProgress)));
                continue;
            }
            db::subscriptions::set_attempt(conn, &subscription.id, &attempt.id, Status::Pending.as_str(), now)?;
            summary.started.push(StartedAttempt {
                attempt_id: attempt.id,
                subscription_id: subscription.id,
                display_name: subscription.display_name,
                email_count: emails.len(),
            });
        }
        Ok(summary)
    })
}

fn ensure_subscription(
    conn: &mut DbConn,
    user_id: &str,
    key: &str,
    emails: &[Email],
    now: NaiveDateTime,
) -> Result<Subscription, AppError> {
    if let Some(existing) = db::subscriptions::find_by_key(conn, user_id, key)? {
        return Ok(existing);
    }
    let first = &emails[0];
    let display_name = first
        .from_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| first.list_id.clone())
        .or_else(|| first.from_address.clone())
        .unwrap_or_else(|| key.to_owned());
    let subscription = Subscription {
        id: db::new_id(),
        user_id: user_id.to_owned(),
        subscription_key: key.to_owned(),
        display_name,
        status: "subscribed".into(),
        last_attempt_id: None,
        unsubscribed_at: None,
        emails_seen: 0,
        emails_after_unsubscribe: 0,
        is_trash_when_ignored: false,
        created_at: now,
        updated_at: now,
    };
    db::subscriptions::insert(conn, &subscription)?;
    Ok(subscription)
}

/// The email whose links are used: the newest that has List-Unsubscribe links, else the newest.
fn pick_source(emails: &[Email]) -> &Email {
    let newest = |e: &&Email| (e.sent_at, e.created_at);
    emails
        .iter()
        .filter(|e| e.list_unsubscribe_urls != "[]")
        .max_by_key(newest)
        .or_else(|| emails.iter().max_by_key(newest))
        .unwrap_or(&emails[0])
}

/// Everything the job needs to run one attempt.
#[derive(Debug, Clone)]
pub struct PreparedAttempt {
    pub attempt_id: String,
    pub user_id: String,
    pub subscription_key: String,
    pub mailbox: db::mailboxes::Mailbox,
    /// The account's own address: the only one typed into forms and the sender of mailto mail.
    pub own_address: String,
    pub targets: Vec<Target>,
}

/// Marks a pending attempt running and gathers what it needs; `None` when it is not pending any more
/// (a second delivery of the job) or its email is gone.
pub fn prepare(conn: &mut DbConn, attempt_id: &str, now: NaiveDateTime) -> Result<Option<PreparedAttempt>, AppError> {
    db::transaction(conn, |conn| {
        let Some(attempt) = db::unsubscribe_attempts::find(conn, attempt_id)? else { return Ok(None) };
        if !db::unsubscribe_attempts::start(conn, attempt_id, now)? {
            return Ok(None);
        }
        let email = match attempt.email_id.as_deref() {
            Some(id) => db::emails::find(conn, id)?,
            None => None,
        };
        let Some(email) = email else {
            finish_with(conn, &attempt, Status::Failed, "the email was deleted before the attempt ran", now)?;
            return Ok(None);
        };
        let Some(mailbox) = db::mailboxes::find(conn, &email.mailbox_id)? else { return Ok(None) };
        set_subscription_status(conn, &attempt, Status::Running, now)?;
        // A Gmail mailbox is named by its address; a Maildir one by its folder, so the user's own address stands in.
        let own_address = match crate::domain::EmailAddress::parse(&mailbox.address) {
            Ok(address) => address.as_str().to_owned(),
            Err(_) => db::users::find(conn, &attempt.user_id)?.map(|u| u.email).unwrap_or_default(),
        };
        Ok(Some(PreparedAttempt {
            user_id: attempt.user_id,
            attempt_id: attempt.id,
            subscription_key: attempt.subscription_key,
            own_address,
            targets: targets_of(&email),
            mailbox,
        }))
    })
}

/// Whether the page agent may ask the AI for this user: their AI mode (else the server's) is not
/// local-only, and today's AI budget is not spent.
pub fn is_ai_allowed(
    conn: &mut DbConn,
    user_id: &str,
    server_mode: crate::config::SortingMode,
    now: NaiveDateTime,
) -> Result<bool, AppError> {
    let Some(user) = db::users::find(conn, user_id)? else { return Ok(false) };
    let settings = crate::sorting::settings::UserAiSettings::parse(&user.ai_settings);
    if settings.mode().unwrap_or(server_mode) == crate::config::SortingMode::Local {
        return Ok(false);
    }
    let spent =
        db::ai_usage::find(conn, user_id, &crate::jobs::sort_emails::day(now))?.map_or(0, |u| u.cost_microdollars);
    Ok(settings.daily_budget_microdollars().is_none_or(|budget| spent < budget))
}

/// The methods to try for an email, in order.
pub fn targets_of(email: &Email) -> Vec<Target> {
    let urls: Vec<String> = serde_json::from_str(&email.list_unsubscribe_urls).unwrap_or_default();
    let links = unsubscribe_links::extract(email.sanitized_html.as_deref(), email.text_body.as_deref());
    rules::plan(&urls, email.is_one_click, &links)
}

/// How an attempt ended, as the job reports it.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub status: Status,
    pub method: Option<Method>,
    pub url: Option<String>,
    pub reason: String,
    pub steps_json: String,
    pub screenshot_path: Option<String>,
}

/// Records an attempt's outcome and the subscription's new status.
pub fn record_result(
    conn: &mut DbConn,
    attempt_id: &str,
    result: &AttemptResult,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    db::transaction(conn, |conn| {
        let Some(attempt) = db::unsubscribe_attempts::find(conn, attempt_id)? else { return Ok(()) };
        let finished = Finished {
            method: result.method.map_or("none", Method::as_str).to_owned(),
            url: result.url.clone(),
            status: result.status.as_str().to_owned(),
            reason: Some(result.reason.clone()),
            steps: result.steps_json.clone(),
            screenshot_path: result.screenshot_path.clone(),
            finished_at: Some(now),
        };
        db::unsubscribe_attempts::finish(conn, attempt_id, &finished)?;
        set_subscription_status(conn, &attempt, result.status, now)
    })
}

fn finish_with(
    conn: &mut DbConn,
    attempt: &UnsubscribeAttempt,
    status: Status,
    reason: &str,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    let finished = Finished {
        method: "none".into(),
        url: None,
        status: status.as_str().into(),
        reason: Some(reason.into()),
        steps: "[]".into(),
        screenshot_path: None,
        finished_at: Some(now),
    };
    db::unsubscribe_attempts::finish(conn, &attempt.id, &finished)?;
    set_subscription_status(conn, attempt, status, now)
}

fn set_subscription_status(
    conn: &mut DbConn,
    attempt: &UnsubscribeAttempt,
    status: Status,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    if let Some(subscription) = db::subscriptions::find_by_key(conn, &attempt.user_id, &attempt.subscription_key)? {
        // A later success is not undone by an older attempt finishing afterwards.
        if subscription.last_attempt_id.as_deref() == Some(attempt.id.as_str()) || status == Status::Succeeded {
            db::subscriptions::record_outcome(conn, &subscription.id, status.as_str(), now)?;
        }
    }
    Ok(())
}

/// The attempts made from one of the user's emails, newest first (for the email page).
pub fn attempts_for_email(conn: &mut DbConn, user_id: &str, email_id: &str) -> Result<Vec<AttemptView>, AppError> {
    Ok(db::unsubscribe_attempts::list_for_email(conn, user_id, email_id)?.into_iter().map(AttemptView::from).collect())
}

/// One attempt, display-ready.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptView {
    pub id: String,
    pub status: Status,
    pub method: Option<Method>,
    pub url: Option<String>,
    /// Evidence of the success, or why not, in words.
    pub reason: Option<String>,
    pub steps: Vec<crate::automation::Step>,
    pub screenshot_path: Option<String>,
    pub created_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

impl From<UnsubscribeAttempt> for AttemptView {
    fn from(a: UnsubscribeAttempt) -> Self {
        AttemptView {
            status: Status::parse(&a.status).unwrap_or(Status::Failed),
            method: Method::parse(&a.method),
            steps: serde_json::from_str(&a.steps).unwrap_or_default(),
            id: a.id,
            url: a.url,
            reason: a.reason,
            screenshot_path: a.screenshot_path,
            created_at: a.created_at,
            finished_at: a.finished_at,
        }
    }
}

/// One subscription, display-ready, for the subscriptions page.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionView {
    pub id: String,
    pub display_name: String,
    /// `list:<List-Id>` or `from:<address>`.
    pub key: String,
    /// `subscribed` before any attempt, else the last attempt's status.
    pub status: String,
    pub unsubscribed_at: Option<NaiveDateTime>,
    /// Emails in the last 30 days.
    pub recent_emails: i64,
    pub emails_after_unsubscribe: i64,
    /// Mail kept arriving after a successful unsubscribe, past the grace period.
    pub is_ignored: bool,
    pub is_trash_when_ignored: bool,
    pub last_attempt: Option<AttemptView>,
}

/// The user's subscriptions (those they tried to leave), with volume and status.
pub fn subscriptions(conn: &mut DbConn, user_id: &str, now: NaiveDateTime) -> Result<Vec<SubscriptionView>, AppError> {
    let mut views = Vec::new();
    for s in db::subscriptions::list_for_user(conn, user_id)? {
        let (list_id, from) = match s.subscription_key.split_once(':') {
            Some(("list", id)) => (Some(id.to_owned()), None),
            Some((_, address)) => (None, Some(address.to_owned())),
            None => (None, None),
        };
        let recent_emails = db::subscriptions::count_recent_emails(
            conn,
            user_id,
            list_id.as_deref(),
            from.as_deref(),
            now - VOLUME_WINDOW,
        )?;
        let last_attempt = match s.last_attempt_id.as_deref() {
            Some(id) => db::unsubscribe_attempts::find(conn, id)?.map(AttemptView::from),
            None => None,
        };
        views.push(SubscriptionView {
            is_ignored: is_ignored(&s, now),
            id: s.id,
            display_name: s.display_name,
            key: s.subscription_key,
            status: s.status,
            unsubscribed_at: s.unsubscribed_at,
            recent_emails,
            emails_after_unsubscribe: s.emails_after_unsubscribe,
            is_trash_when_ignored: s.is_trash_when_ignored,
            last_attempt,
        });
    }
    Ok(views)
}

/// An unsubscribe is ignored when mail still arrives past the grace period after it succeeded.
pub fn is_ignored(subscription: &Subscription, now: NaiveDateTime) -> bool {
    subscription.unsubscribed_at.is_some_and(|at| now > at + GRACE_PERIOD) && subscription.emails_after_unsubscribe > 0
}

/// Turns "send later mail to Trash when the unsubscribe is ignored" on or off for one of the user's subscriptions.
pub fn set_trash_when_ignored(
    conn: &mut DbConn,
    user_id: &str,
    subscription_id: &str,
    is_on: bool,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    let subscription =
        db::subscriptions::find(conn, subscription_id)?.filter(|s| s.user_id == user_id).ok_or(AppError::NotFound)?;
    db::subscriptions::set_trash_when_ignored(conn, &subscription.id, is_on, now)?;
    Ok(())
}

/// After an import: flags mail from subscriptions already left, counts it, and sends it to Trash
/// when the user asked for that and the unsubscribe is ignored. Returns how many were flagged.
pub fn note_arrivals(
    conn: &mut DbConn,
    mailbox_id: &str,
    provider_ids: &[String],
    now: NaiveDateTime,
) -> Result<usize, AppError> {
    let Some(mailbox) = db::mailboxes::find(conn, mailbox_id)? else { return Ok(0) };
    let emails: Vec<Email> = db::emails::list_by_provider_ids(conn, mailbox_id, provider_ids)?;
    let mut flagged = 0;
    let mut to_trash = Vec::new();
    for email in emails.iter().filter(|e| e.state == "imported" && !e.is_after_unsubscribe) {
        let Some(key) = rules::subscription_key(email.list_id.as_deref(), email.from_address.as_deref()) else {
            continue;
        };
        let Some(subscription) = db::subscriptions::find_by_key(conn, &mailbox.user_id, &key)? else { continue };
        let arrived = email.received_at.or(email.sent_at).unwrap_or(email.created_at);
        let is_after = subscription.unsubscribed_at.is_some_and(|at| arrived > at);
        db::subscriptions::add_seen(conn, &subscription.id, 1, i64::from(is_after), now)?;
        if is_after {
            db::emails::mark_after_unsubscribe(conn, &email.id, now)?;
            flagged += 1;
            if subscription.is_trash_when_ignored
                && subscription.unsubscribed_at.is_some_and(|at| now > at + GRACE_PERIOD)
            {
                to_trash.push(email.id.clone());
            }
        }
    }
    if !to_trash.is_empty() {
        crate::services::trash::trash(conn, &mailbox.user_id, &to_trash, now)?;
    }
    Ok(flagged)
}

/// One sender or list the user gets bulk mail from, for the subscriptions page.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkSender {
    pub key: String,
    pub display_name: String,
    /// Emails in the last 30 days.
    pub recent_emails: i64,
    /// The newest of them (the unsubscribe button acts on it).
    pub newest_email_id: String,
    /// What the user did about it, if anything.
    pub subscription: Option<SubscriptionView>,
}

/// Every sender or list the user got bulk mail from in the last 30 days (mail with a List-Id or
/// unsubscribe links), busiest first, with what was done about each; plus subscriptions left
/// earlier that sent nothing since.
pub fn bulk_senders(conn: &mut DbConn, user_id: &str, now: NaiveDateTime) -> Result<Vec<BulkSender>, AppError> {
    use std::collections::HashMap;
    let mut senders: Vec<BulkSender> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (list_id, from_address, from_name, newest_id, count) in
        db::subscriptions::bulk_mail_since(conn, user_id, now - VOLUME_WINDOW)?
    {
        let Some(key) = crate::domain::unsubscribe::subscription_key(list_id.as_deref(), from_address.as_deref())
        else {
            continue;
        };
        let newest_id = newest_id.unwrap_or_default();
        match index.get(&key) {
            // A list written by several senders: one subscription.
            Some(&at) => {
                let sender = &mut senders[at];
                sender.recent_emails += count;
                if newest_id > sender.newest_email_id {
                    sender.newest_email_id = newest_id;
                }
            }
            None => {
                index.insert(key.clone(), senders.len());
                let display_name = from_name
                    .filter(|n| !n.trim().is_empty())
                    .or(list_id)
                    .or(from_address)
                    .unwrap_or_else(|| key.clone());
                senders.push(BulkSender {
                    key,
                    display_name,
                    recent_emails: count,
                    newest_email_id: newest_id,
                    subscription: None,
                });
            }
        }
    }
    for view in subscriptions(conn, user_id, now)? {
        match index.get(&view.key) {
            Some(&at) => senders[at].subscription = Some(view),
            None => senders.push(BulkSender {
                key: view.key.clone(),
                display_name: view.display_name.clone(),
                recent_emails: view.recent_emails,
                newest_email_id: String::new(),
                subscription: Some(view),
            }),
        }
    }
    senders.sort_by(|a, b| b.recent_emails.cmp(&a.recent_emails).then_with(|| a.display_name.cmp(&b.display_name)));
    Ok(senders)
}
