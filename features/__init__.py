"""Read the data contract, clean it, and report data quality (the lowest layer)."""
