"""The organisation's logic: units, bundles (捆绑运行), zones, officers and staffing ratios.

Every read goes through the caller's scope; every change writes an audit record in the same
transaction. One module per part, all importable from here:

- ``records``: rows by code or id in the caller's scope, the scope in words, audit snapshots;
- ``staffing``: officers per 10,000 residents of each unit and of the bureau;
- ``units``: units and their bundles (the bundle rule, ``check_bundle``);
- ``zones`` and ``officers``: the zones of stations, the officers of units;
- ``layers``: the map layers (county, units, zones) as GeoJSON.
"""

from qingzhi.org.service.layers import LAYERS, map_layer
from qingzhi.org.service.officers import (
    create_officer,
    get_officer,
    list_officers,
    update_officer,
)
from qingzhi.org.service.records import (
    bureau,
    bureau_snapshot,
    officer_snapshot,
    scope_label,
    unit_by_code,
    unit_in_scope,
    unit_snapshot,
    visible_unit,
    zone_by_code,
    zone_snapshot,
)
from qingzhi.org.service.staffing import per_10k, summary, unit_reads
from qingzhi.org.service.units import (
    BUNDLE_MAX,
    BUNDLE_MIN,
    check_bundle,
    create_unit,
    get_unit,
    list_units,
    set_members,
    update_unit,
)
from qingzhi.org.service.zones import create_zone, get_zone, list_zones, update_zone

__all__ = [
    "BUNDLE_MAX",
    "BUNDLE_MIN",
    "LAYERS",
    "bureau",
    "bureau_snapshot",
    "check_bundle",
    "create_officer",
    "create_unit",
    "create_zone",
    "get_officer",
    "get_unit",
    "get_zone",
    "list_officers",
    "list_units",
    "list_zones",
    "map_layer",
    "officer_snapshot",
    "per_10k",
    "scope_label",
    "set_members",
    "summary",
    "unit_by_code",
    "unit_in_scope",
    "unit_reads",
    "unit_snapshot",
    "update_officer",
    "update_unit",
    "update_zone",
    "visible_unit",
    "zone_by_code",
    "zone_snapshot",
]
