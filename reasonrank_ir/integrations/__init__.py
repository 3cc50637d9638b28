"""Adapters that plug our rerankers into other toolkits (PyTerrier)."""
