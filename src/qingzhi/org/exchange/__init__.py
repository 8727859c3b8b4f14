"""Import and export of the organisation as a folder or zip of GeoJSON and CSV files.

The bundle holds ``bureau.json`` (code, name, population, boundary geometry), ``units.geojson``
(one Feature per unit; properties code, name, kind, central, population, traffic_integrated,
service_window, synthetic; geometry = jurisdiction or null), ``zones.geojson`` (code, name,
station, population, synthetic) and ``officers.csv`` (police_number, name, kind, unit, team, zone,
duty_status, active, synthetic). Import upserts by code and police number. Every row is checked
through the organisation API's own schemas before anything is written; any bad row fails the
whole import with each problem listed (file, row, field, reason), so nothing is half-imported.

- ``files``: reading a bundle (a folder, a zip file or zip bytes; bounded) and writing one;
- ``rows``: the files parsed, every row validated into a schema object, every problem kept;
- ``load``: references resolved, bundles checked, then the upsert with its audit records;
- ``export``: the organisation in the caller's scope as the bundle's files.
"""

from qingzhi.org.exchange.export import export_bundle
from qingzhi.org.exchange.files import (
    FILES,
    MAX_BUNDLE_BYTES,
    MAX_MEMBER_BYTES,
    MAX_MEMBERS,
    OFFICER_COLUMNS,
    read_bundle,
    write_bundle,
    zip_bundle,
)
from qingzhi.org.exchange.load import ImportReport, import_bundle
from qingzhi.org.exchange.rows import Bundle, parse_bundle

__all__ = [
    "FILES",
    "MAX_BUNDLE_BYTES",
    "MAX_MEMBERS",
    "MAX_MEMBER_BYTES",
    "OFFICER_COLUMNS",
    "Bundle",
    "ImportReport",
    "export_bundle",
    "import_bundle",
    "parse_bundle",
    "read_bundle",
    "write_bundle",
    "zip_bundle",
]
