-- Each person chooses how sorted mail is filed in their mailbox: out of the inbox (the default) or
-- kept there, and with the `EmailGator/<category>` label (the default, when the server allows it) or not.
ALTER TABLE users ADD COLUMN is_keeping_inbox BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN is_labelling BOOLEAN NOT NULL DEFAULT TRUE;
