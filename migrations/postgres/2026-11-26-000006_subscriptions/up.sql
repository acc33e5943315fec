-- Subscriptions: one per user and list (List-Id, else sender address), with where unsubscribing stands,
-- how much mail it sent, how much arrived after a successful unsubscribe, and whether that mail goes
-- straight to Trash once the unsubscribe is ignored.
CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    subscription_key TEXT NOT NULL,
    display_name TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'subscribed',
    last_attempt_id TEXT,
    unsubscribed_at TIMESTAMP,
    emails_seen BIGINT NOT NULL DEFAULT 0,
    emails_after_unsubscribe BIGINT NOT NULL DEFAULT 0,
    is_trash_when_ignored BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX subscriptions_user_key ON subscriptions (user_id, subscription_key);
-- The subscription list counts each subscription's recent mail by List-Id or sender.
CREATE INDEX emails_list_id ON emails (list_id);
CREATE INDEX emails_from_address ON emails (from_address);
