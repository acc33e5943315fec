DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'btree_gin') THEN
        DROP INDEX IF EXISTS emails_search_text;
        EXECUTE 'CREATE INDEX emails_search_text ON emails USING gin ((lower(subject || E''\n'' || '
            || 'COALESCE(from_name, '''') || E''\n'' || COALESCE(from_address, '''') || E''\n'' || '
            || 'COALESCE(summary, ''''))) gin_trgm_ops) WHERE trashed_at IS NULL';
    END IF;
END $$;

DROP TRIGGER emails_count ON emails;
CREATE TRIGGER emails_count AFTER INSERT OR DELETE OR UPDATE OF category_id, trashed_at ON emails
FOR EACH ROW EXECUTE FUNCTION emails_count_change();
CREATE OR REPLACE FUNCTION emails_count_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.category_id IS NOT NULL AND OLD.trashed_at IS NULL THEN
        IF TG_OP = 'DELETE' OR NEW.category_id IS DISTINCT FROM OLD.category_id OR NEW.trashed_at IS NOT NULL THEN
            INSERT INTO category_email_counts (category_id, delta) VALUES (OLD.category_id, -1);
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.category_id IS NOT NULL AND NEW.trashed_at IS NULL THEN
        IF TG_OP = 'INSERT' OR OLD.category_id IS DISTINCT FROM NEW.category_id OR OLD.trashed_at IS NOT NULL THEN
            INSERT INTO category_email_counts (category_id, delta) VALUES (NEW.category_id, 1);
        END IF;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
DELETE FROM category_email_counts;
DROP INDEX category_email_counts_category;
ALTER TABLE category_email_counts DROP COLUMN mailbox_id;
CREATE INDEX category_email_counts_category ON category_email_counts (category_id, delta);
INSERT INTO category_email_counts (category_id, delta)
SELECT category_id, COUNT(*) FROM emails WHERE category_id IS NOT NULL AND trashed_at IS NULL GROUP BY category_id;
