DROP INDEX emails_category_list;
CREATE INDEX emails_category_list ON emails (category_id, listed_at DESC, id DESC) WHERE trashed_at IS NULL;
DROP INDEX emails_category_account;
CREATE INDEX emails_category_account ON emails (category_id, mailbox_id, listed_at DESC, id DESC)
    WHERE trashed_at IS NULL;
DROP INDEX emails_review;
CREATE INDEX emails_review ON emails (mailbox_id, state, listed_at DESC, id DESC) WHERE trashed_at IS NULL;
