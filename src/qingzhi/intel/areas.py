"""The study area of the analysis maps: the jurisdictions in the caller's scope, and its grid.

Hotspots, the warning scan and the forecast compare a place with the area policed, so their grid
covers the extent of the jurisdictions (派出所辖区) in scope (the whole bureau: every unit's), not
the bounding box of the incidents: a placeholder point far away (a geocoder's default, a test
call at 0, 0) no longer stretches the grid to a continent. Incidents outside that extent are left
out of the map and counted (``n_outside``). The grid's size is checked against the budget
(``intel.budget``) from the extent before any cell is allocated. When no unit in scope has a
jurisdiction drawn, the grid is the incidents' bounding box, checked the same way (a far point
then gives a 422 on ``cell``, never a huge allocation).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import numpy as np
import shapely
import shapely.geometry
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.analysis.grid import Grid, extent_cells, grid_for_extent
from qingzhi.auth.context import Actor
from qingzhi.geo.projection import project_geometry
from qingzhi.intel import budget
from qingzhi.org import scope as org_scope
from qingzhi.org.models import Unit

log = logging.getLogger(__name__)


def jurisdictions(session: Session, actor: Actor, crs: str) -> BaseGeometry | None:
    """The union of the jurisdictions in the caller's scope, projected to ``crs`` (metres);
    None when none is drawn."""
    stmt = org_scope.units(select(Unit.jurisdiction), actor)
    stmt = stmt.where(Unit.jurisdiction.is_not(None))
    shapes = [shapely.geometry.shape(json.loads(j)) for j in session.scalars(stmt) if j]
    if not shapes:
        return None
    union = shapely.union_all(shapes)
    projected: BaseGeometry = project_geometry(union, crs)
    return projected


@dataclass(frozen=True)
class StudyGrid:
    """A grid over the study area and which of its cells lie in the jurisdictions (flat)."""

    grid: Grid
    inside: NDArray[np.bool_]
    drawn: bool  # whether the extent is the jurisdictions' (else the incidents' bounding box)

    def keep(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Which points fall in the grid."""
        return np.asarray(self.grid.flat_index(x, y) >= 0, dtype=bool)


def study_grid(
    session: Session,
    actor: Actor,
    crs: str,
    cell: float,
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    *,
    max_cells: int | None = None,
) -> StudyGrid:
    """The grid of ``cell`` metres over the jurisdictions in scope (or, with none drawn, over the
    points ``x``, ``y``), refused with a 422 on ``cell`` when over ``max_cells`` (default
    ``budget.MAX_GRID_CELLS``)."""
    area = jurisdictions(session, actor, crs)
    if area is not None:
        xmin, ymin, xmax, ymax = (float(v) for v in area.bounds)
    else:
        if len(x) == 0:
            raise ValueError("no jurisdiction and no events to build a grid from")
        xmin, ymin = float(np.min(x)), float(np.min(y))
        xmax, ymax = float(np.max(x)), float(np.max(y))
    budget.check_grid(extent_cells(xmin, ymin, xmax, ymax, cell), "cell", max_cells)
    grid = grid_for_extent(xmin, ymin, xmax, ymax, cell)
    if area is None:
        return StudyGrid(grid, np.ones(grid.n_cells, dtype=bool), drawn=False)
    xc, yc = grid.centres()
    shapely.prepare(area)
    inside = np.asarray(shapely.contains_xy(area, xc, yc), dtype=bool)
    return StudyGrid(grid, inside, drawn=True)
