"""Station evaluation (主防导向绩效考核) and reform impact (改革成效评估) over the store.

The maths is the pure ``qingzhi.analysis`` library (indicators, scheme, scoring, panel, impact,
synth); this domain keeps the schemes (versioned, never changed in place) and the reforms, builds
the stations' records and the station × month panels from the incidents in scope, and serves
them under ``/api/kpi``.
"""
