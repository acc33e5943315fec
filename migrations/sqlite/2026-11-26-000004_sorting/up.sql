-- Sorting: each user's local model (JSON), what senders taught it, and what the AI cost per day.
CREATE TABLE sorter_models (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    examples BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMP NOT NULL
);

-- A sender (`from:<address>`) or list (`list:<id>`) and the category its mail went to: `count` times in a
-- row, never corrected; a correction resets it to the new category.
CREATE TABLE sender_memory (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    sender_key TEXT NOT NULL,
    category_id TEXT NOT NULL REFERENCES categories(id) ON DELETE CASCADE,
    count BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, sender_key)
);

CREATE TABLE ai_usage (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    calls BIGINT NOT NULL DEFAULT 0,
    prompt_tokens BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    cost_microdollars BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day)
);
