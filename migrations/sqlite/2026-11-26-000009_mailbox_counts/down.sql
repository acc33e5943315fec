DROP TRIGGER emails_state_count_update;
DROP TRIGGER emails_state_count_delete;
DROP TRIGGER emails_state_count_insert;
DROP TABLE mailbox_email_counts;
