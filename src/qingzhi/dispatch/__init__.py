"""Dispatch: ranking available officers for an incident and sending them in one click."""
