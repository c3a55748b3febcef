"""Environments: what a project declares, the lock, its check, and the run environment."""
