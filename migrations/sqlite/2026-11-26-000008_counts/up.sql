-- Pages stay fast at 100,000 emails a user.
--
-- Each category's count of live emails (in the category, not deleted) is kept as changes that
-- triggers write on every insert, update and delete of an email, whatever code made it; readers sum
-- them and a fold turns them back into one row per category. Changes are only ever inserted, so
-- writers never wait on one another for a counter row (PostgreSQL runs many at once).
CREATE TABLE category_email_counts (
    category_id TEXT NOT NULL,
    delta BIGINT NOT NULL
);
CREATE INDEX category_email_counts_category ON category_email_counts (category_id, delta);

INSERT INTO category_email_counts (category_id, delta)
SELECT category_id, COUNT(*) FROM emails WHERE category_id IS NOT NULL AND trashed_at IS NULL GROUP BY category_id;

CREATE TRIGGER emails_count_insert AFTER INSERT ON emails
WHEN NEW.category_id IS NOT NULL AND NEW.trashed_at IS NULL
BEGIN
    INSERT INTO category_email_counts (category_id, delta) VALUES (NEW.category_id, 1);
END;

CREATE TRIGGER emails_count_delete AFTER DELETE ON emails
WHEN OLD.category_id IS NOT NULL AND OLD.trashed_at IS NULL
BEGIN
    INSERT INTO category_email_counts (category_id, delta) VALUES (OLD.category_id, -1);
END;

CREATE TRIGGER emails_count_leave AFTER UPDATE OF category_id, trashed_at ON emails
WHEN OLD.category_id IS NOT NULL AND OLD.trashed_at IS NULL
    AND NOT (NEW.category_id IS OLD.category_id AND NEW.trashed_at IS NULL)
BEGIN
    INSERT INTO category_email_counts (category_id, delta) VALUES (OLD.category_id, -1);
END;

CREATE TRIGGER emails_count_enter AFTER UPDATE OF category_id, trashed_at ON emails
WHEN NEW.category_id IS NOT NULL AND NEW.trashed_at IS NULL
    AND NOT (OLD.category_id IS NEW.category_id AND OLD.trashed_at IS NULL)
BEGIN
    INSERT INTO category_email_counts (category_id, delta) VALUES (NEW.category_id, 1);
END;

CREATE TRIGGER categories_count_delete AFTER DELETE ON categories
BEGIN
    DELETE FROM category_email_counts WHERE category_id = OLD.id;
END;

-- The category list reads only live emails, in order, with or without the account filter, and
-- counts without touching the rows. Each query has an index that matches all its equalities, so
-- SQLite picks it without statistics. (No plain index on category_id: SQLite would pick it for
-- counts and read every row; moving a deleted category's emails scans the table instead, rarely.)
DROP INDEX emails_category_list;
CREATE INDEX emails_category_list ON emails (category_id, listed_at DESC, id DESC) WHERE trashed_at IS NULL;
CREATE INDEX emails_category_account ON emails (category_id, mailbox_id, listed_at DESC, id DESC)
    WHERE trashed_at IS NULL;
-- "Imported today" per account, and the deleted emails a user can still undo.
CREATE INDEX emails_mailbox_created ON emails (mailbox_id, created_at);
CREATE INDEX emails_mailbox_trashed ON emails (mailbox_id, trashed_at) WHERE trashed_at IS NOT NULL;
-- The subscriptions page reads a user's recent bulk mail (a List-Id or unsubscribe links) from
-- this index alone; the query repeats its condition word for word so SQLite can use it.
CREATE INDEX emails_bulk ON emails (mailbox_id, listed_at DESC, id DESC, list_id, from_address, from_name)
    WHERE trashed_at IS NULL AND (list_id IS NOT NULL OR list_unsubscribe_urls <> '[]');
-- Text search in a category: a trigram index (substring matches, as the filter promises) over the
-- fields the filter reads, kept by triggers and keyed by the emails' rowids. Contentless: the text
-- is not stored twice. EmailGator never runs VACUUM, which could renumber those rowids.
CREATE VIRTUAL TABLE email_search USING fts5(
    subject, from_name, from_address, summary, content = '', contentless_delete = 1, tokenize = 'trigram'
);
INSERT INTO email_search (rowid, subject, from_name, from_address, summary)
SELECT rowid, subject, COALESCE(from_name, ''), COALESCE(from_address, ''), COALESCE(summary, '') FROM emails;

CREATE TRIGGER emails_search_insert AFTER INSERT ON emails
BEGIN
    INSERT INTO email_search (rowid, subject, from_name, from_address, summary) VALUES
        (NEW.rowid, NEW.subject, COALESCE(NEW.from_name, ''), COALESCE(NEW.from_address, ''), COALESCE(NEW.summary, ''));
END;

CREATE TRIGGER emails_search_delete AFTER DELETE ON emails
BEGIN
    DELETE FROM email_search WHERE rowid = OLD.rowid;
END;

CREATE TRIGGER emails_search_update AFTER UPDATE OF subject, from_name, from_address, summary ON emails
BEGIN
    DELETE FROM email_search WHERE rowid = OLD.rowid;
    INSERT INTO email_search (rowid, subject, from_name, from_address, summary) VALUES
        (NEW.rowid, NEW.subject, COALESCE(NEW.from_name, ''), COALESCE(NEW.from_address, ''), COALESCE(NEW.summary, ''));
END;
-- Needs review: counted from the index, and paged through it.
CREATE INDEX emails_review ON emails (mailbox_id, state, listed_at DESC, id DESC) WHERE trashed_at IS NULL;
