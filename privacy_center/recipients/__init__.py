"""Article 19 GDPR: the register of the operator's recipients and processors
(``content/recipients.yaml``), the notification of an erasure, rectification or restriction to
each recipient holding the data concerned, and what the requester is told about them.

- the register itself is content, loaded and checked at start-up by
  ``privacy_center/content/recipients.py``;
- ``services.py``: the notifications written with the completion, what the letter says;
- ``delivery.py``: the HTTP calls and emails, retries, the requester's follow-up mail;
- ``views.py``, ``cli.py``: staff's retry and acknowledgement, the recipient's link,
  ``flask recipients notify`` for cron.
"""
