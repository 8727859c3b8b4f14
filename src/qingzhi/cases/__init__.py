"""Criminal cases (案件) and 快侦快办: opened from criminal incidents, teams, outcomes, rates."""
