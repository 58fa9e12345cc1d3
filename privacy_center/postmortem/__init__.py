"""Post-mortem directives of the living and requests of heirs (French law 78-17, art. 85)."""
