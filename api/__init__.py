"""Composition layer: storage, HTTP API and the `winkwatch` command line."""
