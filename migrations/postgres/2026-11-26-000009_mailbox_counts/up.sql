-- The admin overview shows each mailbox's emails per state without counting them: the same kept
-- changes as the category counts, written by a trigger on `emails` and folded by the reader.
CREATE TABLE mailbox_email_counts (
    mailbox_id TEXT NOT NULL,
    state TEXT NOT NULL,
    delta BIGINT NOT NULL
);
CREATE INDEX mailbox_email_counts_mailbox ON mailbox_email_counts (mailbox_id, state, delta);

INSERT INTO mailbox_email_counts (mailbox_id, state, delta)
SELECT mailbox_id, state, COUNT(*) FROM emails GROUP BY mailbox_id, state;

CREATE FUNCTION emails_state_count_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.mailbox_id = OLD.mailbox_id AND NEW.state = OLD.state THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO mailbox_email_counts (mailbox_id, state, delta) VALUES (OLD.mailbox_id, OLD.state, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO mailbox_email_counts (mailbox_id, state, delta) VALUES (NEW.mailbox_id, NEW.state, 1);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER emails_state_count AFTER INSERT OR DELETE OR UPDATE OF mailbox_id, state ON emails
FOR EACH ROW EXECUTE FUNCTION emails_state_count_change();
