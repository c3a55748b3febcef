"""Merging notebooks: three-way cell merge, line merge with markers, conflict repair."""
