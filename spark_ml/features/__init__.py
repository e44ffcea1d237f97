"""The flight-delay use case: silver typing and the point-in-time feature table, composed from
the generic transforms. DataFrame -> DataFrame only.

May import: transforms, config, errors (never io, provenance, tasks, cli or mlflow).
"""
