"""Community policing (两队一室): teams, posts and partners, household visits, disputes and
their mediation, and the measures of the 30-minute target and repeat calls."""
