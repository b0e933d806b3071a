"""catalog-api."""
