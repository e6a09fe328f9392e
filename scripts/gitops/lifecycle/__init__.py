"""Whole-cluster journeys built from the other areas: bootstrap to a reconciled cluster, nightly
conformance.
"""
