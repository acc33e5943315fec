-- Text search in a category on PostgreSQL: a trigram index (pg_trgm, shipped with PostgreSQL and
-- trusted, so the database owner may create it) over the same expression the filter reads:
-- subject, sender name, sender address and summary, lower-cased and joined by a line break, so a
-- substring match needs no row reading. Where pg_trgm cannot be installed the filter still works,
-- reading the category's rows.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%); the text filter reads rows instead', SQLERRM;
END $$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        EXECUTE 'CREATE INDEX emails_search_text ON emails USING gin ((lower(subject || E''\n'' || '
            || 'COALESCE(from_name, '''') || E''\n'' || COALESCE(from_address, '''') || E''\n'' || '
            || 'COALESCE(summary, ''''))) gin_trgm_ops) WHERE trashed_at IS NULL';
    END IF;
END $$;
