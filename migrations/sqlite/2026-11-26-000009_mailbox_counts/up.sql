-- The admin overview shows each mailbox's emails per state without counting them: the same kept
-- changes as the category counts, written by triggers on `emails` and folded by the reader.
CREATE TABLE mailbox_email_counts (
    mailbox_id TEXT NOT NULL,
    state TEXT NOT NULL,
    delta BIGINT NOT NULL
);
CREATE INDEX mailbox_email_counts_mailbox ON mailbox_email_counts (mailbox_id, state, delta);

INSERT INTO mailbox_email_counts (mailbox_id, state, delta)
SELECT mailbox_id, state, COUNT(*) FROM emails GROUP BY mailbox_id, state;

CREATE TRIGGER emails_state_count_insert AFTER INSERT ON emails
BEGIN
    INSERT INTO mailbox_email_counts (mailbox_id, state, delta) VALUES (NEW.mailbox_id, NEW.state, 1);
END;

CREATE TRIGGER emails_state_count_delete AFTER DELETE ON emails
BEGIN
    INSERT INTO mailbox_email_counts (mailbox_id, state, delta) VALUES (OLD.mailbox_id, OLD.state, -1);
END;

CREATE TRIGGER emails_state_count_update AFTER UPDATE OF mailbox_id, state ON emails
WHEN NEW.mailbox_id IS NOT OLD.mailbox_id OR NEW.state IS NOT OLD.state
BEGIN
    INSERT INTO mailbox_email_counts (mailbox_id, state, delta) VALUES (OLD.mailbox_id, OLD.state, -1);
    INSERT INTO mailbox_email_counts (mailbox_id, state, delta) VALUES (NEW.mailbox_id, NEW.state, 1);
END;
