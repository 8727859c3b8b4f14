"""The organisation: the bureau, its units (stations, central stations), zones and officers."""
