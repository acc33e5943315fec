DROP INDEX emails_from_address;
DROP INDEX emails_list_id;
DROP TABLE subscriptions;
