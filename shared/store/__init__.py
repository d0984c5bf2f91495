"""Storage: the tables, migrations and the reads and writes of each record."""
