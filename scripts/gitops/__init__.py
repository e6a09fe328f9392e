"""Automation for the TaskNote GitOps repository (see DESIGN.md for the module map)."""
