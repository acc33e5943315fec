-- Core tables. Portable types only: TEXT ids (UUID), BIGINT, BOOLEAN, naive UTC TIMESTAMP, JSON as TEXT.

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    is_admin BOOLEAN NOT NULL DEFAULT FALSE,
    ai_settings TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE login_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);

CREATE TABLE mailboxes (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    address TEXT NOT NULL,
    encrypted_access_token TEXT,
    encrypted_refresh_token TEXT,
    token_key_id TEXT,
    token_expires_at TIMESTAMP,
    granted_scopes TEXT NOT NULL DEFAULT '',
    sync_cursor TEXT,
    status TEXT NOT NULL DEFAULT 'active',
    rate_limited_until TIMESTAMP,
    last_synced_at TIMESTAMP,
    last_error TEXT,
    backfill_days BIGINT NOT NULL DEFAULT 7,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, address)
);

CREATE TABLE categories (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    description TEXT NOT NULL,
    position BIGINT NOT NULL DEFAULT 0,
    gmail_label_ids TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, name_key)
);

CREATE TABLE emails (
    id TEXT PRIMARY KEY NOT NULL,
    mailbox_id TEXT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    provider_message_id TEXT NOT NULL,
    thread_id TEXT,
    message_id_header TEXT,
    from_name TEXT,
    from_address TEXT,
    to_addresses TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    sent_at TIMESTAMP,
    received_at TIMESTAMP,
    snippet TEXT NOT NULL DEFAULT '',
    text_body TEXT,
    sanitized_html TEXT,
    raw_size BIGINT NOT NULL DEFAULT 0,
    list_id TEXT,
    list_unsubscribe_urls TEXT NOT NULL DEFAULT '[]',
    is_one_click BOOLEAN NOT NULL DEFAULT FALSE,
    auth_result TEXT,
    state TEXT NOT NULL DEFAULT 'discovered',
    category_id TEXT REFERENCES categories(id) ON DELETE SET NULL,
    sort_source TEXT,
    confidence DOUBLE PRECISION,
    summary TEXT,
    archived_at TIMESTAMP,
    trashed_at TIMESTAMP,
    is_after_unsubscribe BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (mailbox_id, provider_message_id)
);
CREATE INDEX emails_category_list ON emails (category_id, sent_at DESC, id);
CREATE INDEX emails_mailbox_state ON emails (mailbox_id, state);

CREATE TABLE unsubscribe_attempts (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    subscription_key TEXT NOT NULL,
    email_id TEXT REFERENCES emails(id) ON DELETE SET NULL,
    method TEXT NOT NULL,
    url TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    reason TEXT,
    steps TEXT NOT NULL DEFAULT '[]',
    screenshot_path TEXT,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX unsubscribe_attempts_subscription ON unsubscribe_attempts (user_id, subscription_key);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    args TEXT NOT NULL,
    queue TEXT NOT NULL,
    priority BIGINT NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    attempt BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_at TIMESTAMP NOT NULL,
    lease_owner TEXT,
    lease_expires_at TIMESTAMP,
    last_error TEXT,
    unique_key TEXT,
    created_at TIMESTAMP NOT NULL,
    attempted_at TIMESTAMP,
    finished_at TIMESTAMP
);
-- Workers look up due jobs per queue in priority order.
CREATE INDEX jobs_claim ON jobs (queue, priority, run_at, id) WHERE state IN ('available', 'scheduled', 'retryable');
-- A unique key blocks a second copy only while the first is still to run.
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('available', 'scheduled', 'running', 'retryable');
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_finished ON jobs (finished_at);
CREATE INDEX jobs_cron_key ON jobs (unique_key);

CREATE TABLE leases (
    name TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    acquired_at TIMESTAMP NOT NULL
);
