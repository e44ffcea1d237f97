"""Declarative data-quality checks: table checks evaluated in one aggregated Spark pass, and the
row-level reasons ingest quarantines rows for; one predicate per check serves both.

    predicates.py  when a row violates a check: one Column per check, shared by the two below
    checks.py      table checks from config, evaluated in one aggregation per table
    rows.py        why a parsed row must be quarantined at ingest (null when it is good)

May import: transforms, config, errors (never io, provenance, tasks, cli or mlflow).
"""
