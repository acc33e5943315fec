-- Pages stay fast at 100,000 emails a user.
--
-- Each category's count of live emails (in the category, not deleted) is kept as changes that
-- triggers write on every insert, update and delete of an email, whatever code made it; readers sum
-- them and a fold turns them back into one row per category. Changes are only ever inserted, so
-- concurrent writers never wait on one another, or deadlock, over a counter row.
CREATE TABLE category_email_counts (
    category_id TEXT NOT NULL,
    delta BIGINT NOT NULL
);
CREATE INDEX category_email_counts_category ON category_email_counts (category_id, delta);

INSERT INTO category_email_counts (category_id, delta)
SELECT category_id, COUNT(*) FROM emails WHERE category_id IS NOT NULL AND trashed_at IS NULL GROUP BY category_id;

CREATE FUNCTION emails_count_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.category_id IS NOT NULL AND OLD.trashed_at IS NULL THEN
        IF TG_OP = 'DELETE' THEN
            INSERT INTO category_email_counts (category_id, delta) VALUES (OLD.category_id, -1);
        ELSIF NEW.category_id IS DISTINCT FROM OLD.category_id OR NEW.trashed_at IS NOT NULL THEN
            INSERT INTO category_email_counts (category_id, delta) VALUES (OLD.category_id, -1);
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.category_id IS NOT NULL AND NEW.trashed_at IS NULL THEN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO category_email_counts (category_id, delta) VALUES (NEW.category_id, 1);
        ELSIF OLD.category_id IS DISTINCT FROM NEW.category_id OR OLD.trashed_at IS NOT NULL THEN
            INSERT INTO category_email_counts (category_id, delta) VALUES (NEW.category_id, 1);
        END IF;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER emails_count AFTER INSERT OR DELETE OR UPDATE OF category_id, trashed_at ON emails
FOR EACH ROW EXECUTE FUNCTION emails_count_change();

CREATE FUNCTION categories_count_delete() RETURNS trigger AS $$
BEGIN
    DELETE FROM category_email_counts WHERE category_id = OLD.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER categories_count_delete AFTER DELETE ON categories
FOR EACH ROW EXECUTE FUNCTION categories_count_delete();

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
-- Needs review: counted from the index, and paged through it.
CREATE INDEX emails_review ON emails (mailbox_id, state, listed_at DESC, id DESC) WHERE trashed_at IS NULL;
