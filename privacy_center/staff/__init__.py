"""The staff console: sign-in with two factors, access control, and the request work."""
