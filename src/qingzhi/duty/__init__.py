"""Duty rosters (排班): the shifts each unit works and who works which, and who is on duty when."""
