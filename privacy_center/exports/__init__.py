"""The data download (art. 15 and 20 GDPR): a streamed zip of everything the connectors hold
about an account holder, with its JSON Schema, CSV files, a summary and a manifest.

- ``copies.py``: a copy's life (the fee notice, counting, stalled copies, the owner's links,
  expiry);
- ``building.py``: what goes in the zip (the plan of categories, the summary, descriptions);
- ``archive.py``: the zip itself, streamed (data.json, CSVs, schema, manifest), and the one
  spreadsheet-safe CSV writer;
- ``serving.py``: a small copy streamed at once, a large one prepared in the background and
  mailed;
- ``stored.py``: a prepared copy encrypted in segments, and served while it is decrypted;
- ``information.py``: ``content/processing.yaml``, what a person is told with their copy;
- ``views.py``, ``setup.py``: the account holder's pages and ``flask exports purge``.
"""
