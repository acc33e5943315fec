DROP TABLE resorts;
