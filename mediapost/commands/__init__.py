"""The logic of the operator commands (status, backfill, retry-failed, check, auth).

`mediapost.cli` parses options and prints; these modules do the work as plain functions that
take their settings, connections and clock as arguments, so tests call them directly.
"""
