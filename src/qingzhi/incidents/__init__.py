"""Incidents (警情): intake, routing by jurisdiction, lifecycle, repeat calls, query and exports."""
