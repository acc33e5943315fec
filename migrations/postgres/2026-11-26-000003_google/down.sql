DROP TABLE oauth_states;
DROP INDEX users_google_subject;
ALTER TABLE users DROP COLUMN google_subject;
