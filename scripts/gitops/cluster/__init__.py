"""Clusters: which one (target: kind, k3s or any context), the one cluster port every read and
write goes through (port, with port-forward), kubeconfig contexts, and the kind/k3s lifecycle.
"""
