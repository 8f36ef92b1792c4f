"""Falcon resources: one module per area of the API, one class per route."""
