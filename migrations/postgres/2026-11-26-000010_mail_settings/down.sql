ALTER TABLE users DROP COLUMN is_labelling;
ALTER TABLE users DROP COLUMN is_keeping_inbox;
