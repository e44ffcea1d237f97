"""Reporting: the one-page HTML report of a pipeline run, rendered from a Jinja2 template.

    html.py        the pipeline run's HTML page: steps, tables written, data quality, metrics, plots
    templates/     its Jinja2 template

Pure rendering from results already computed (no Spark, no storage): the caller writes and logs
the page. May import: config, errors, jinja2.
"""
