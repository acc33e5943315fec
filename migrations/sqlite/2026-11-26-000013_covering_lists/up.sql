-- The category list reads its rows from its index alone. SQLite keeps an email's bodies inside the
-- email's row, before most of the columns a list row shows, so reading fifty rows of real mail (tens
-- of kilobytes of HTML each) walked each row's overflow pages to reach its date and summary. The
-- two list indexes now also hold every column the page reads (`ListedEmail` in src/db/emails.rs);
-- `trashed_at` too, so no column of the query is left outside the index.
DROP INDEX emails_category_list;
CREATE INDEX emails_category_list ON emails (
    category_id, listed_at DESC, id DESC, mailbox_id, from_name, from_address, subject, list_id, sort_source,
    confidence, summary, archived_at, is_after_unsubscribe, trashed_at
) WHERE trashed_at IS NULL;
DROP INDEX emails_category_account;
CREATE INDEX emails_category_account ON emails (
    category_id, mailbox_id, listed_at DESC, id DESC, from_name, from_address, subject, list_id, sort_source,
    confidence, summary, archived_at, is_after_unsubscribe, trashed_at
) WHERE trashed_at IS NULL;
-- Needs review is chosen (a sort over all the user's waiting emails) and counted from its index;
-- without `trashed_at` in it SQLite read every waiting email's row instead.
DROP INDEX emails_review;
CREATE INDEX emails_review ON emails (mailbox_id, state, listed_at DESC, id DESC, trashed_at) WHERE trashed_at IS NULL;
