"""The consent widget: its files, its configuration, and proof of every choice."""
