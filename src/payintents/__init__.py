"""payintents: a self-hosted payments API server that speaks Dojo's card-payments API."""

__version__ = "0.1.0"
