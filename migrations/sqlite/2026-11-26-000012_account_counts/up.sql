-- A category's kept counts per account as well, so the category list filtered by account shows
-- its count without counting the emails. The change rows gain the email's mailbox; readers of a
-- whole category sum over its mailboxes. The rows are rebuilt once from the emails.
DROP TRIGGER emails_count_insert;
DROP TRIGGER emails_count_delete;
DROP TRIGGER emails_count_leave;
DROP TRIGGER emails_count_enter;
DROP INDEX category_email_counts_category;
DELETE FROM category_email_counts;
ALTER TABLE category_email_counts ADD COLUMN mailbox_id TEXT NOT NULL DEFAULT '';
CREATE INDEX category_email_counts_category ON category_email_counts (category_id, mailbox_id, delta);

INSERT INTO category_email_counts (category_id, mailbox_id, delta)
SELECT category_id, mailbox_id, COUNT(*) FROM emails WHERE category_id IS NOT NULL AND trashed_at IS NULL
GROUP BY category_id, mailbox_id;

CREATE TRIGGER emails_count_insert AFTER INSERT ON emails
WHEN NEW.category_id IS NOT NULL AND NEW.trashed_at IS NULL
BEGIN
    INSERT INTO category_email_counts (category_id, mailbox_id, delta) VALUES (NEW.category_id, NEW.mailbox_id, 1);
END;

CREATE TRIGGER emails_count_delete AFTER DELETE ON emails
WHEN OLD.category_id IS NOT NULL AND OLD.trashed_at IS NULL
BEGIN
    INSERT INTO category_email_counts (category_id, mailbox_id, delta) VALUES (OLD.category_id, OLD.mailbox_id, -1);
END;

CREATE TRIGGER emails_count_leave AFTER UPDATE OF category_id, trashed_at, mailbox_id ON emails
WHEN OLD.category_id IS NOT NULL AND OLD.trashed_at IS NULL
    AND NOT (NEW.category_id IS OLD.category_id AND NEW.mailbox_id IS OLD.mailbox_id AND NEW.trashed_at IS NULL)
BEGIN
    INSERT INTO category_email_counts (category_id, mailbox_id, delta) VALUES (OLD.category_id, OLD.mailbox_id, -1);
END;

CREATE TRIGGER emails_count_enter AFTER UPDATE OF category_id, trashed_at, mailbox_id ON emails
WHEN NEW.category_id IS NOT NULL AND NEW.trashed_at IS NULL
    AND NOT (OLD.category_id IS NEW.category_id AND OLD.mailbox_id IS NEW.mailbox_id AND OLD.trashed_at IS NULL)
BEGIN
    INSERT INTO category_email_counts (category_id, mailbox_id, delta) VALUES (NEW.category_id, NEW.mailbox_id, 1);
END;
