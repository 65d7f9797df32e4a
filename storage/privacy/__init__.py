"""Privacy storage: the personal-data map, retention and the open-data queries."""
