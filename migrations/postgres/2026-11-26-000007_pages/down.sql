DROP TABLE api_tokens;
DROP INDEX emails_category_list;
CREATE INDEX emails_category_list ON emails (category_id, sent_at DESC, id);
ALTER TABLE emails DROP COLUMN listed_at;
