ALTER TABLE emails DROP COLUMN parse_problems;
ALTER TABLE emails DROP COLUMN labels;
ALTER TABLE mailboxes DROP COLUMN maildir_path;
