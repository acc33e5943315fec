-- PostgreSQL keeps large bodies out of the row (TOAST), so its list indexes stay as they are; this
-- number keeps the two backends' migration lists alike (SQLite's list indexes cover the page here).
SELECT 1;
