"""The governance domain: organisations, roles, calendar, process catalogue, handlers.

Imports `engine`, never `webui`. Filled by the governance-processes work.
"""
