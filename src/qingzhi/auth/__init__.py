"""Accounts, roles and permissions, scopes, browser sessions and API tokens."""
