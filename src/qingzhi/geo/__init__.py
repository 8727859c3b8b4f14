"""Geography: datums, projections, geometry parsing and region indexes."""
