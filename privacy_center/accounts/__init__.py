"""Account holders: sign-in (password or emailed link) and communication preferences."""
