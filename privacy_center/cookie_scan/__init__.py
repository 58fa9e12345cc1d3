"""The cookie scanner: the operator's site, visited in Chromium, checked against the registry."""
