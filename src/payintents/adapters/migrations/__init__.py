"""Alembic migrations for the SQL store (run on ``serve`` start and by ``payintents migrate``)."""
