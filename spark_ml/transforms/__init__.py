"""Pure, domain-free DataFrame -> DataFrame and Column -> Column helpers that chain with
`DataFrame.transform`: CSV parsing, time, as-of joins, rolling windows, de-duplication.

May import: config, errors, pyspark (nothing else of spark_ml).
"""
