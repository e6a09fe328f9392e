"""Helpers shared by tests of several tiers (importable as `support`: pytest's pythonpath)."""
