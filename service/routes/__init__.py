"""The API's routes, one resource per module."""
