"""Fixtures for the api tests; the helpers live in api_support.py, which the tests import by name."""

from api_support import *  # noqa: F403  (registers the fixtures)
