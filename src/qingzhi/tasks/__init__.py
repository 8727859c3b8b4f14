"""Supervised tasks (督办): issued to an owner unit with a deadline, reported on, verified."""
