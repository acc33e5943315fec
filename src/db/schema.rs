//! The portable schema shared by SQLite and PostgreSQL. Hand-kept in step with both migration trees;
//! `tests/api/schema.rs` checks that the columns match the migrations on each backend.

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        name -> Text,
        is_admin -> Bool,
        ai_settings -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        google_subject -> Nullable<Text>,
        is_keeping_inbox -> Bool,
        is_labelling -> Bool,
    }
}

diesel::table! {
    oauth_states (state_hash) {
        state_hash -> Text,
        purpose -> Text,
        browser_hash -> Text,
        user_id -> Nullable<Text>,
        code_verifier -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        user_id -> Text,
        csrf_token -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    login_tokens (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    mailboxes (id) {
        id -> Text,
        user_id -> Text,
        kind -> Text,
        address -> Text,
        encrypted_access_token -> Nullable<Text>,
        encrypted_refresh_token -> Nullable<Text>,
        token_key_id -> Nullable<Text>,
        token_expires_at -> Nullable<Timestamp>,
        granted_scopes -> Text,
        sync_cursor -> Nullable<Text>,
        status -> Text,
        rate_limited_until -> Nullable<Timestamp>,
        last_synced_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        backfill_days -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        maildir_path -> Nullable<Text>,
    }
}

diesel::table! {
    /// Changes to each category's count of live emails, written by triggers on `emails` and
    /// folded back to one row per category. Rows have no identity: they are only summed, so the
    /// declared key is nominal.
    category_email_counts (category_id, mailbox_id, delta) {
        category_id -> Text,
        delta -> BigInt,
        mailbox_id -> Text,
    }
}

diesel::table! {
    mailbox_email_counts (mailbox_id, state, delta) {
        mailbox_id -> Text,
        state -> Text,
        delta -> BigInt,
    }
}

diesel::table! {
    categories (id) {
        id -> Text,
        user_id -> Text,
        name -> Text,
        name_key -> Text,
        description -> Text,
        position -> BigInt,
        gmail_label_ids -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    emails (id) {
        id -> Text,
        mailbox_id -> Text,
        provider_message_id -> Text,
        thread_id -> Nullable<Text>,
        message_id_header -> Nullable<Text>,
        from_name -> Nullable<Text>,
        from_address -> Nullable<Text>,
        to_addresses -> Text,
        subject -> Text,
        sent_at -> Nullable<Timestamp>,
        received_at -> Nullable<Timestamp>,
        snippet -> Text,
        text_body -> Nullable<Text>,
        sanitized_html -> Nullable<Text>,
        raw_size -> BigInt,
        list_id -> Nullable<Text>,
        list_unsubscribe_urls -> Text,
        is_one_click -> Bool,
        auth_result -> Nullable<Text>,
        state -> Text,
        category_id -> Nullable<Text>,
        sort_source -> Nullable<Text>,
        confidence -> Nullable<Double>,
        summary -> Nullable<Text>,
        archived_at -> Nullable<Timestamp>,
        trashed_at -> Nullable<Timestamp>,
        is_after_unsubscribe -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        labels -> Text,
        parse_problems -> Nullable<Text>,
        listed_at -> Timestamp,
    }
}

diesel::table! {
    unsubscribe_attempts (id) {
        id -> Text,
        user_id -> Text,
        subscription_key -> Text,
        email_id -> Nullable<Text>,
        method -> Text,
        url -> Nullable<Text>,
        status -> Text,
        reason -> Nullable<Text>,
        steps -> Text,
        screenshot_path -> Nullable<Text>,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    subscriptions (id) {
        id -> Text,
        user_id -> Text,
        subscription_key -> Text,
        display_name -> Text,
        status -> Text,
        last_attempt_id -> Nullable<Text>,
        unsubscribed_at -> Nullable<Timestamp>,
        emails_seen -> BigInt,
        emails_after_unsubscribe -> BigInt,
        is_trash_when_ignored -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    jobs (id) {
        id -> Text,
        kind -> Text,
        args -> Text,
        queue -> Text,
        priority -> BigInt,
        state -> Text,
        attempt -> BigInt,
        max_attempts -> BigInt,
        run_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        unique_key -> Nullable<Text>,
        created_at -> Timestamp,
        attempted_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    leases (name) {
        name -> Text,
        holder -> Text,
        expires_at -> Timestamp,
        acquired_at -> Timestamp,
    }
}

diesel::table! {
    sorter_models (user_id) {
        user_id -> Text,
        model -> Text,
        examples -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sender_memory (user_id, sender_key) {
        user_id -> Text,
        sender_key -> Text,
        category_id -> Text,
        count -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    ai_usage (user_id, day) {
        user_id -> Text,
        day -> Text,
        calls -> BigInt,
        prompt_tokens -> BigInt,
        completion_tokens -> BigInt,
        cost_microdollars -> BigInt,
    }
}

diesel::table! {
    resorts (user_id) {
        user_id -> Text,
        since -> Timestamp,
        total -> BigInt,
        done -> BigInt,
        changed -> BigInt,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Text,
        user_id -> Text,
        name -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(login_tokens -> users (user_id));
diesel::joinable!(oauth_states -> users (user_id));
diesel::joinable!(sorter_models -> users (user_id));
diesel::joinable!(sender_memory -> users (user_id));
diesel::joinable!(sender_memory -> categories (category_id));
diesel::joinable!(ai_usage -> users (user_id));
diesel::joinable!(resorts -> users (user_id));
diesel::joinable!(mailboxes -> users (user_id));
diesel::joinable!(categories -> users (user_id));
diesel::joinable!(emails -> mailboxes (mailbox_id));
diesel::joinable!(emails -> categories (category_id));
diesel::joinable!(unsubscribe_attempts -> users (user_id));
diesel::joinable!(unsubscribe_attempts -> emails (email_id));
diesel::joinable!(subscriptions -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    login_tokens,
    oauth_states,
    sorter_models,
    sender_memory,
    ai_usage,
    resorts,
    mailboxes,
    categories,
    category_email_counts,
    mailbox_email_counts,
    emails,
    unsubscribe_attempts,
    subscriptions,
    jobs,
    leases,
    api_tokens,
);
