-- The pages: a list date that is never NULL (the message's own date, else when it arrived), so the
-- category list is ordered and paged the same way on both backends; and personal API tokens.
ALTER TABLE emails ADD COLUMN listed_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE emails SET listed_at = COALESCE(sent_at, received_at, created_at);
DROP INDEX emails_category_list;
CREATE INDEX emails_category_list ON emails (category_id, listed_at DESC, id DESC);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);
CREATE INDEX api_tokens_user_id ON api_tokens (user_id);
