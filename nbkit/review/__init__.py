"""Reviewing notebooks: diffs, output comparison, git sides, reports and their renderers."""
