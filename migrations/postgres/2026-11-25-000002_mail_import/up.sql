-- Mail import: where a Maildir mailbox lives, the provider's labels of each email, and what could not be
-- read from a message (it is stored anyway, never dropped).
ALTER TABLE mailboxes ADD COLUMN maildir_path TEXT;
ALTER TABLE emails ADD COLUMN labels TEXT NOT NULL DEFAULT '';
ALTER TABLE emails ADD COLUMN parse_problems TEXT;
