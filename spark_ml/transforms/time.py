"""Clock times as real timestamps: hhmm integers + a local date + a time zone -> a UTC instant."""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

ColumnOrName = Column | str


def _col(c: ColumnOrName) -> Column:
    return F.col(c) if isinstance(c, str) else c


def hhmm_minutes(hhmm: ColumnOrName) -> Column:
    """Minutes after midnight of an hhmm integer (517 -> 317, 2400 -> 1440); null when the minute
    part is not 0-59, the value is negative, or the input is null."""
    value = _col(hhmm)
    minutes = F.floor(value / 100) * 60 + value % 100
    valid = value.isNotNull() & (value >= 0) & (value % 100 < 60)
    return F.when(valid, minutes.cast("int"))


def local_timestamp(
    local_date: ColumnOrName, hhmm: ColumnOrName, zone: str, day_offset: ColumnOrName | int = 0
) -> Column:
    """The instant at which the wall clock in `zone` shows `hhmm` on `local_date` (+ `day_offset` days).

    DST-aware through `make_timestamp`: a time in the spring-forward gap moves forward by the gap
    (02:30 on 2013-03-10 in New York is 03:30 EDT), an ambiguous fall-back time takes the earlier
    offset. `2400` is midnight at the end of the day. Null date, null or invalid hhmm give null.
    """
    minutes = hhmm_minutes(hhmm)
    offset = F.lit(day_offset) if isinstance(day_offset, int) else _col(day_offset)
    day = F.date_add(_col(local_date), (F.floor(minutes / 1440) + offset).cast("int"))
    of_day = minutes % 1440
    stamp = F.make_timestamp(
        F.year(day),
        F.month(day),
        F.dayofmonth(day),
        F.floor(of_day / 60).cast("int"),
        (of_day % 60).cast("int"),
        F.lit(0),
        F.lit(zone),
    )
    return F.when(minutes.isNotNull() & day.isNotNull(), stamp)


def with_local_timestamp(
    df: DataFrame, output: str, local_date: str, hhmm: str, zone: str, day_offset: ColumnOrName | int = 0
) -> DataFrame:
    """Adds `output`: the timestamp of the `hhmm` column on the `local_date` column in `zone`."""
    return df.withColumn(output, local_timestamp(local_date, hhmm, zone, day_offset))


def month_bounds(month: str) -> tuple[date, date]:
    """'2013-12' -> (2013-12-01, 2013-12-31)."""
    year, number = (int(p) for p in month.split("-"))
    first = date(year, number, 1)
    following = date(year + number // 12, number % 12 + 1, 1)
    return first, date.fromordinal(following.toordinal() - 1)
