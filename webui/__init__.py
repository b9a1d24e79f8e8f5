"""Kedja's user interfaces: the Flask web application and the `kedja` command line."""
