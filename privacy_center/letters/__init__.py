"""Letters and every other PDF: one rendering function, remote fetches refused."""
