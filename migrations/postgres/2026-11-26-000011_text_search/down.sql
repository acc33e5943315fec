DROP INDEX IF EXISTS emails_search_text;
