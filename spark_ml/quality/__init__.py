"""Declarative data-quality checks: table checks evaluated in one aggregated Spark pass, and the
row-level reasons ingest quarantines rows for; one predicate per check serves both.

May import: transforms, config, errors (never io, provenance, tasks, cli or mlflow).
"""
