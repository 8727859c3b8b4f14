"""Planning (规划): station bundling, officer allocation, queueing, hypercube and simulation.

A pure library (numpy, scipy, shapely, SimPy; ``qingzhi.geo.projection`` and ``qingzhi.errors``
only): no database, no web. A service converts store rows into these value types and back:

* ``model.Station`` (code, name, seat lon/lat, jurisdiction polygon, rural, sworn, auxiliary,
  minimums), ``model.Call`` (minute from a Monday 00:00 local, lon/lat, handling station,
  on-scene minutes = arrived → resolved, category, priority, weight), ``model.OperatingUnit`` /
  ``model.Organisation`` (who answers which stations' calls from which seat, and neighbours),
  ``model.Staffing`` (units on duty per operating unit and hour of the week, 168 integers).
* ``workload.build_workload`` (calls per station × hour of week, weighted workload with
  ``WorkloadWeights`` by category and priority, on-scene means), ``workload.demand_atoms`` and
  ``workload.travel_table`` (minutes from each seat to each atom under a ``travel`` model:
  ``RoadNetwork`` over the dispatch road graph when ``QINGZHI_ROAD_GRAPH`` is set, else
  ``StraightLine`` — straight line × 1.4 at 30 km/h, stated by ``describe()``).
* ``bundling.bundling_problem`` → ``solve_bundling`` (HiGHS MIP: ``BundlingResult`` with the
  ``BundlingPlan``, its ``PlanScore``, status and gap) and ``evaluate_plan`` for any plan (the
  demo's actual 17 → 8), ``organisation_of`` a plan; ``displacement.displacement_risk``.
* ``queueing.predict`` (M/M/c per hour: share waiting, mean wait, mean and 90th-percentile
  response); ``hypercube.solve_exact`` / ``solve_approx`` (Larson 1974 / 1975).
* ``allocation.allocate`` (``UnitDemand`` per operating unit, ``RosterRule``): moves with their
  marginal gains, before/after, the roster; ``optimal_allocation`` (greedy from the minimums).
* ``simulation.simulate`` (SimPy replay: ``SimulationResult`` per station with CIs).
* ``roads.coverage`` / ``read_osm_roads`` (交所合一: road km by class per unit and officer).

Bad input raises ``qingzhi.errors.ValidationFailed`` naming the field; an infeasible problem
raises ``model.PlanInfeasible`` naming the constraints that cannot be met (both 422).
"""
