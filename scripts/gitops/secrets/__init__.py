"""Sealed Secrets: the SealedSecret format and crypto, sealing keys and their backups, controller
access, the plaintext scanner.
"""
