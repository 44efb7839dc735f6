"""Helpers for tests that are not fixtures themselves (a real Dovecot to compare against)."""
