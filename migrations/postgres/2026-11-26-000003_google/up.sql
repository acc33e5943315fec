-- Google sign-in: the Google account a user signs in with, and the short-lived state of each OAuth
-- round trip (single use, bound to the browser that started it, holding the PKCE verifier).
ALTER TABLE users ADD COLUMN google_subject TEXT;
CREATE UNIQUE INDEX users_google_subject ON users (google_subject) WHERE google_subject IS NOT NULL;

CREATE TABLE oauth_states (
    state_hash TEXT PRIMARY KEY NOT NULL,
    purpose TEXT NOT NULL,
    browser_hash TEXT NOT NULL,
    user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
    code_verifier TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX oauth_states_expires_at ON oauth_states (expires_at);
