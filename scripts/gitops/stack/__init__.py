"""The local compose stack: up, down, status and the password it generates."""
