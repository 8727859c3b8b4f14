"""Analysis engine (研判): trends, hotspots, prediction, near-repeat and early warning.

A pure library on numpy/scipy/shapely/pyproj: no database and no web. Services convert their rows
to the value types here (``EventTable``, ``Grid``) and back.
"""
