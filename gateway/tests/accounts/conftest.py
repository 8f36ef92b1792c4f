"""Fixtures for the accounts tests; the helpers live in accounts_support.py, which the tests import by name."""

from accounts_support import *  # noqa: F403  (registers the fixtures)
