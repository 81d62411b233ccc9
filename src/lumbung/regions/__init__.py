"""Kemendagri regions: provinces, regencies/cities, districts, villages; scope checks."""
