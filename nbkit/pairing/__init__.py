"""Pairing notebooks with text scripts: which script pairs with which notebook, and sync."""
