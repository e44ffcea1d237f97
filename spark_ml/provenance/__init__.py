"""Provenance: what produced every table version and model version, and how to re-create it.

    manifest.py   the run manifest: one record per task run, its schema defined once
    runs.py       the runs table (write, queries), landing files, time-travel checks
    lineage.py    `spark-ml lineage`: from a table or model version down to the landing files
    reproduce.py  `spark-ml reproduce`: re-train a recorded run and compare its metrics
    code.py       package, git commit and library versions of this process
    compute.py    where a run ran: Spark master or Connect remote (masked), application, executors

May import: io, transforms, session, logs, config, errors (never tasks or cli: reproduce takes the
train task's `run` as an argument).
"""
