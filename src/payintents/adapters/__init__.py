"""Implementations of the service ports: SQL store, clock, ids and the sandbox processor."""
