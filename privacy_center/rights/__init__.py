"""Self-service rights: the /rights entry page, requests for every right, their status page."""
