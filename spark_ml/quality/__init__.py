"""Declarative data-quality checks evaluated in one aggregated Spark pass per table."""
