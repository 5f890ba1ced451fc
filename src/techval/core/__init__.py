"""The layer everything stands on: configuration, errors, schemas, redaction, the HTTP client
and its exchanges. Imports nothing else of techval.
"""
