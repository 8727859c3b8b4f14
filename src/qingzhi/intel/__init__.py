"""Intelligence analysis (研判) services and API on top of the pure ``qingzhi.analysis`` library."""
