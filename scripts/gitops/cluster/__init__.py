"""Clusters: which one (kind, k3s or any context), how to reach it (kubeconfig, the kubectl port,
port-forward) and its lifecycle.
"""
