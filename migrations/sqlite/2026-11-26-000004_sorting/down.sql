DROP TABLE ai_usage;
DROP TABLE sender_memory;
DROP TABLE sorter_models;
