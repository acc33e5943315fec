DROP TRIGGER emails_state_count ON emails;
DROP FUNCTION emails_state_count_change();
DROP TABLE mailbox_email_counts;
