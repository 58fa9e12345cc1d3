"""The data download (art. 15 and 20 GDPR): a streamed zip of everything the connectors hold
about an account holder, with its JSON Schema, CSV files, a summary and a manifest."""
