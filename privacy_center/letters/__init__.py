"""Letters and every other PDF: one rendering function, remote fetches refused.

- ``rendering.py``: ``render_pdf``, the one PDF function (nothing remote is ever fetched);
- ``kinds.py``: the kinds of letters, their fields and articles;
- ``services.py``: a letter checked and rendered in the request's language; what it says of the
  request (due date, recipients...) comes from the feature owning requests, through
  ``register_request_facts`` (the letters import no feature);
- ``outbox.py``: a letter stored with its SHA-256 and its mail queued; ``download.py``: a sent
  letter served again; ``samples.py``: ``flask letters sample``.
"""
