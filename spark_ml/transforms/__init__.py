"""Pure, domain-free DataFrame -> DataFrame and Column -> Column helpers that chain with
`DataFrame.transform`: CSV parsing, time, as-of joins, rolling windows, de-duplication.

    frames.py      column contracts, de-duplication (dedupe_latest), a layout of one task per value
    csv.py         CSV text lines -> typed columns with an explicit schema, keeping the raw line and its fault
    time.py        hhmm clock times + a local date + a time zone -> UTC instants
    asof.py        as-of join: the latest right row at or before each left row's time, within a tolerance
    rolling.py     means over calendar-day windows strictly before each row's date (point in time)

May import: config, errors, pyspark (nothing else of spark_ml).
"""
