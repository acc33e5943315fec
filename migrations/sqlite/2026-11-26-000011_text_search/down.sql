-- SQLite searches text through the FTS5 trigram index of migration 000008; this number keeps the
-- two backends' migration lists alike (PostgreSQL gets its trigram index here).
SELECT 1;
