"""Use cases' feature code, DataFrame -> DataFrame only, composed from the generic transforms.

    builder.py   what a feature builder is: input tables, build function, parameters, monthly rebuilds
    registry.py  the builders by name (`features.builder` picks one; `spark-ml new usecase` adds one)
    flights.py   the flight-delay use case: silver typing and the point-in-time feature table

May import: transforms, config, errors (never io, provenance, tasks, cli or mlflow).
"""
