"""The HTTP API and the browser page (`maskwatch serve`)."""
