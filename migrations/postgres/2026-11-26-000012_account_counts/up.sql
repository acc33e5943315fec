-- A category's kept counts per account as well, so the category list filtered by account shows
-- its count without counting the emails. The change rows gain the email's mailbox; readers of a
-- whole category sum over its mailboxes. The rows are rebuilt once from the emails.
LOCK TABLE category_email_counts;
DELETE FROM category_email_counts;
ALTER TABLE category_email_counts ADD COLUMN mailbox_id TEXT NOT NULL;
DROP INDEX category_email_counts_category;
CREATE INDEX category_email_counts_category ON category_email_counts (category_id, mailbox_id, delta);
INSERT INTO category_email_counts (category_id, mailbox_id, delta)
SELECT category_id, mailbox_id, COUNT(*) FROM emails WHERE category_id IS NOT NULL AND trashed_at IS NULL
GROUP BY category_id, mailbox_id;

CREATE OR REPLACE FUNCTION emails_count_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.category_id IS NOT NULL AND OLD.trashed_at IS NULL THEN
        IF TG_OP = 'DELETE' OR NEW.category_id IS DISTINCT FROM OLD.category_id
            OR NEW.mailbox_id IS DISTINCT FROM OLD.mailbox_id OR NEW.trashed_at IS NOT NULL THEN
            INSERT INTO category_email_counts (category_id, mailbox_id, delta)
            VALUES (OLD.category_id, OLD.mailbox_id, -1);
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.category_id IS NOT NULL AND NEW.trashed_at IS NULL THEN
        IF TG_OP = 'INSERT' OR OLD.category_id IS DISTINCT FROM NEW.category_id
            OR OLD.mailbox_id IS DISTINCT FROM NEW.mailbox_id OR OLD.trashed_at IS NOT NULL THEN
            INSERT INTO category_email_counts (category_id, mailbox_id, delta)
            VALUES (NEW.category_id, NEW.mailbox_id, 1);
        END IF;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER emails_count ON emails;
CREATE TRIGGER emails_count AFTER INSERT OR DELETE OR UPDATE OF category_id, trashed_at, mailbox_id ON emails
FOR EACH ROW EXECUTE FUNCTION emails_count_change();

-- The text filter looks in one category: with btree_gin (shipped with PostgreSQL and trusted, like
-- pg_trgm) the trigram index holds the category too, so only that category's matches are read
-- from the table, not every category's. Without btree_gin the index of migration 000011 stays.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS btree_gin;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'btree_gin is not available (%); the text filter index stays without the category', SQLERRM;
END $$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')
        AND EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'btree_gin') THEN
        DROP INDEX IF EXISTS emails_search_text;
        EXECUTE 'CREATE INDEX emails_search_text ON emails USING gin (category_id, (lower(subject || E''\n'' || '
            || 'COALESCE(from_name, '''') || E''\n'' || COALESCE(from_address, '''') || E''\n'' || '
            || 'COALESCE(summary, ''''))) gin_trgm_ops) WHERE trashed_at IS NULL';
    END IF;
END $$;
