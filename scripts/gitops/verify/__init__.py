"""Proving a running TaskNote works: the step engine and its reports, the smoke suite, reconcile
waits.
"""
