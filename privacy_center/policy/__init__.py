"""Policy pages, versions, the cookie registry and the static export."""
