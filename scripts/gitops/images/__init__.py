"""Container images: air-gapped Debian bases, the TaskNote app image, release builds and the OCI
registry client.
"""
