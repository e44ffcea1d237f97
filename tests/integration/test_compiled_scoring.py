"""The score task writes, through the compiled logistic regression, the very predictions that the
model's `transform` gives, on the slice of the real data."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from spark_ml.io import models
from spark_ml.io.delta import Lakehouse
from spark_ml.ml.compiled import margin_column
from spark_ml.ml.training import in_window
from spark_ml.tasks.score import score_frame
from spark_ml.transforms.time import month_bounds
from tests.slice import SliceRun

pytestmark = [pytest.mark.integration]


def test_the_written_predictions_equal_transform(spark: SparkSession, world: SliceRun) -> None:
    cfg = world.settings
    sc, tc = cfg.require_score(), cfg.require_train()
    lakehouse = Lakehouse(spark, cfg)
    rows = lakehouse.read(tc.table).where(in_window(tc.time_column, month_bounds(sc.month)))
    columns = [*tc.keys, tc.time_column, "probability", "prediction"]
    written = lakehouse.read(sc.output).where(f"score_month = '{sc.month}'").select(*columns)
    with models.loaded(cfg, sc.alias) as (model, version):
        assert margin_column(model, rows.schema) is not None  # the world's champion is compiled
        threshold = float(version.tags.get("spark_ml.threshold", "0.5"))
        native = score_frame(model, rows, tc, threshold, compiled=False).select(*columns)
        assert_df_equality(written, native, ignore_row_order=True)
    assert written.count() > 500
    assert {r["prediction"] for r in written.select("prediction").distinct().collect()} == {0, 1}
