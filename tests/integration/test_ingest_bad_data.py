"""Bad landing data: every row ends in bronze or quarantine with a reason, or the run stops with
an error naming the file and the column. Nothing is dropped silently."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_ml.config import Settings
from spark_ml.errors import LandingError
from spark_ml.io.delta import Lakehouse
from spark_ml.io.landing import demo_data_dir
from spark_ml.tasks import ingest

pytestmark = [pytest.mark.integration]  # runs the ingest task on landing files it writes

HEADER = (
    "year,month,day,dep_time,sched_dep_time,dep_delay,arr_time,sched_arr_time,arr_delay,carrier,flight,tailnum,"
    "origin,dest,air_time,distance,hour,minute,time_hour"
)
GOOD = [
    "2013,1,1,517,515,2,830,819,11,UA,1545,N14228,EWR,IAH,227,1400,5,15,2013-01-01T10:00:00Z",
    "2013,1,1,533,529,4,850,830,20,UA,1714,N24211,LGA,IAH,227,1416,5,29,2013-01-01T10:00:00Z",
    "2013,1,1,542,540,2,923,850,33,AA,1141,N619AA,JFK,MIA,160,1089,5,40,2013-01-01T10:00:00Z",
]
BAD = {
    "2013,1,1,garbage": "too few fields (found 4, expected 19)",
    "2013,1,1,544,545,abc,1004,1022,-18,B6,725,N804JB,JFK,BQN,183,1576,5,45,2013-01-01T10:00:00Z": "column dep_delay: 'abc' is not int",
    "2013,1,1,554,600,-6,812,837,-25,DL,461,N668DN,LGA,ATL,116,762,6,0,2013-01-01T11:00:00Z,surplus": "too many fields (expected 19)",
    "2013,1,1,554,558,-4,740,728,12,ZZ,1696,N39463,EWR,ORD,150,719,5,58,2013-01-01T10:00:00Z": "carrier 'ZZ' not found in bronze.airlines.carrier",
    "2013,13,1,555,600,-5,913,854,19,B6,507,N516JB,EWR,FLL,158,1065,6,0,2013-01-01T11:00:00Z": "month 13 out of range [1, 12]",
    "2013,1,1,557,600,-3,709,723,-14,NA,5708,N829AS,LGA,IAD,53,229,6,0,2013-01-01T11:00:00Z": "missing required field carrier",
    "2013,1,1,557,600,-3,838,846,-8,B6,79,N593JB,JFK,MCO,140,99999,6,0,2013-01-01T11:00:00Z": "distance 99999 out of range [1, 10000]",
}


def land(settings: Settings, name: str, text: str) -> Path:
    path = Path(settings.lakehouse.landing_dir) / "flights" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def land_airlines(settings: Settings) -> None:
    target = Path(settings.lakehouse.landing_dir) / "airlines" / "airlines.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes((demo_data_dir() / "airlines.csv").read_bytes())


def run_ingest(spark: SparkSession, settings: Settings):  # type: ignore[no-untyped-def]
    return ingest.run(spark, settings, sources=["airlines", "flights"])


def test_bad_rows_are_quarantined_with_reasons_and_good_rows_land(spark: SparkSession, tmp_settings: Settings) -> None:
    land_airlines(tmp_settings)
    land(tmp_settings, "2013-01.csv", "\n".join([HEADER, *GOOD[:2], *BAD, "", GOOD[2]]) + "\n")
    land(tmp_settings, "2013-02.csv", HEADER + "\n")  # header only: zero rows, not an error
    result = run_ingest(spark, tmp_settings)
    tables = Lakehouse(spark, tmp_settings)
    assert tables.read("bronze.flights").count() == 3
    quarantine = {r["raw_line"]: r for r in tables.read("bronze.flights_quarantine").collect()}
    assert set(quarantine) == set(BAD)
    for line, reason in BAD.items():
        assert quarantine[line]["reason"].startswith(reason), quarantine[line]["reason"]
        assert quarantine[line]["source_file"] == "flights/2013-01.csv"
        assert quarantine[line]["ingest_run_id"] == result.run_id
    assert "flights/2013-01.csv: read 10 = written 3 + quarantined 7" in result.notes
    assert "flights/2013-02.csv: read 0 = written 0 + quarantined 0" in result.notes


def test_a_changed_file_replaces_only_its_own_rows(spark: SparkSession, tmp_settings: Settings) -> None:
    land_airlines(tmp_settings)
    land(tmp_settings, "2013-01.csv", "\n".join([HEADER, GOOD[0], GOOD[1]]) + "\n")
    land(tmp_settings, "2013-02.csv", "\n".join([HEADER, GOOD[2].replace("2013,1,1,", "2013,2,1,")]) + "\n")
    run_ingest(spark, tmp_settings)
    # A malformed line appended to January: January is re-ingested, February is not touched.
    land(tmp_settings, "2013-01.csv", "\n".join([HEADER, GOOD[0], GOOD[1], "2013,1,1,garbage"]) + "\n")
    again = run_ingest(spark, tmp_settings)
    tables = Lakehouse(spark, tmp_settings)
    per_file = {
        r["source_file"]: r["count"] for r in tables.read("bronze.flights").groupBy("source_file").count().collect()
    }
    assert per_file == {"flights/2013-01.csv": 2, "flights/2013-02.csv": 1}
    assert [r["raw_line"] for r in tables.read("bronze.flights_quarantine").collect()] == ["2013,1,1,garbage"]
    assert "flights: 1 file(s) already ingested unchanged, skipped" in again.notes
    assert "flights/2013-01.csv: read 3 = written 2 + quarantined 1" in again.notes
    # the changed file's rows, and only those, were replaced: the commit's predicate names that file alone
    predicate = tables.history("bronze.flights")[0]["operationParameters"]["predicate"]
    assert "source_file" in predicate
    assert "flights/2013-01.csv" in predicate
    assert "flights/2013-02.csv" not in predicate


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (HEADER.replace(",dep_delay", ""), r"header has missing column\(s\) dep_delay"),
        (HEADER + ",gate", r"header has unexpected column\(s\) gate"),
        (HEADER.replace("dep_time,sched_dep_time", "sched_dep_time,dep_time"), r"header has columns out of order"),
    ],
)
def test_a_wrong_header_stops_the_run_naming_file_and_column(
    spark: SparkSession, tmp_settings: Settings, header: str, message: str
) -> None:
    land_airlines(tmp_settings)
    land(tmp_settings, "2013-01.csv", "\n".join([HEADER, GOOD[0]]) + "\n")
    land(tmp_settings, "2013-03.csv", "\n".join([header, GOOD[1]]) + "\n")
    with pytest.raises(LandingError, match=rf"landing file .*flights/2013-03.csv: {message}"):
        run_ingest(spark, tmp_settings)
    assert not Lakehouse(spark, tmp_settings).exists("bronze.flights")  # checked before anything is written


def test_an_empty_file_stops_the_run_naming_it(spark: SparkSession, tmp_settings: Settings) -> None:
    land_airlines(tmp_settings)
    land(tmp_settings, "2013-04.csv", "")
    with pytest.raises(LandingError, match=r"landing file .*flights/2013-04.csv is empty: no header line"):
        run_ingest(spark, tmp_settings)


def test_rows_in_equal_rows_out_for_every_file(spark: SparkSession, tmp_settings: Settings) -> None:
    land_airlines(tmp_settings)
    land(tmp_settings, "2013-05.csv", "\n".join([HEADER, *GOOD, *list(BAD)[:3]]) + "\n")
    run_ingest(spark, tmp_settings)
    tables = Lakehouse(spark, tmp_settings)
    log = tables.read("bronze.ingested_files").where(F.col("source") == "flights").collect()
    assert [(r["rows_read"], r["rows_written"], r["rows_quarantined"]) for r in log] == [(6, 3, 3)]
