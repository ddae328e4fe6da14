"""Shared code of the contract doubles (tests only)."""
