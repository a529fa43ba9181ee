"""Over time: events kept in an SQLite store, read back, summarised per hour, and pruned by age."""
