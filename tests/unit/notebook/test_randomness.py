"""NB505 beyond the fixtures: where the seed goes, imports and aliases, the global generators, SQL."""

from __future__ import annotations

from pathlib import Path

from spark_ml.notebook.checker import CheckConfig, check_notebook
from spark_ml.notebook.model import Cell, Notebook
from spark_ml.notebook.readers import code_cell

SPARK = "from pyspark.sql import functions as F\ndf = spark.range(10)\n"


def unseeded(*sources: str) -> list[tuple[int, int, str]]:
    """(cell, line, snippet) of each NB505 finding."""
    cells: list[Cell] = [code_cell(i, s, None) for i, s in enumerate(sources, 1)]
    found = check_notebook(Notebook(Path("inline.ipynb"), "jupyter", tuple(cells)), CheckConfig())
    return [(f.cell, f.line, f.message.split("`")[1]) for f in found if f.rule == "NB505"]


def test_spark_calls_without_a_seed() -> None:
    assert unseeded(
        SPARK + "a, b = df.randomSplit([0.8, 0.2])\n"
        "s1 = df.sample(0.1)\n"
        "s2 = df.sample(False, 0.1)\n"
        "s3 = df.sample(withReplacement=True, fraction=0.1)\n"
        "r1 = df.withColumn('r', F.rand())\n"
        "r2 = df.withColumn('r', F.randn(seed=None))\n"
        "by = df.sampleBy('k', {0: 0.1})\n"
        "few = df.rdd.takeSample(False, 5)"
    ) == [
        (1, 3, "df.randomSplit([0.8, 0.2])"),
        (1, 4, "df.sample(0.1)"),
        (1, 5, "df.sample(False, 0.1)"),
        (1, 6, "df.sample(withReplacement=True, fraction=0.1)"),
        (1, 7, "F.rand()"),
        (1, 8, "F.randn(seed=None)"),
        (1, 9, "df.sampleBy('k', {0: 0.1})"),
        (1, 10, "df.rdd.takeSample(False, 5)"),
    ]


def test_spark_calls_with_a_seed_in_any_position() -> None:
    assert (
        unseeded(
            SPARK + "a, b = df.randomSplit([0.8, 0.2], seed=42)\n"
            "c, d = df.randomSplit([0.5, 0.5], 7)\n"
            "s1 = df.sample(0.1, 42)\n"
            "s2 = df.sample(False, 0.1, 3)\n"
            "s3 = df.sample(fraction=0.1, seed=1)\n"
            "r1 = df.withColumn('r', F.rand(42))\n"
            "r2 = df.withColumn('r', F.randn(seed=1))\n"
            "by = df.sampleBy('k', {0: 0.1}, 5)\n"
            "few = df.rdd.takeSample(False, 5, seed=9)\n"
            "sample = df.limit(5)\n"
            "import pandas as pd\n"
            "pdf = pd.DataFrame({'a': [1]}).sample(n=1, random_state=0)"
        )
        == []
    )


def test_rand_through_imports_and_aliases() -> None:
    assert unseeded("from pyspark.sql.functions import rand, randn\nx = rand()\ny = randn(1)") == [(1, 2, "rand()")]
    assert unseeded("import pyspark.sql.functions as sf\nx = sf.rand()") == [(1, 2, "sf.rand()")]
    assert unseeded("from pyspark.sql.functions import *\nx = rand()") == [(1, 2, "rand()")]
    assert unseeded("def rand():\n    return 4\nx = rand()") == []  # not Spark's


def test_numpy_global_generator_is_reported_once_until_seeded() -> None:
    assert unseeded(
        "import numpy as np\nrng = np.random.default_rng(42)\na = np.random.rand(3)\nb = np.random.choice([1, 2])",
        "np.random.seed(1)\nc = np.random.rand(3)",
    ) == [(1, 3, "np.random.rand(3)")]  # default_rng(42) does not seed the global generator
    found = check_notebook(
        Notebook(
            Path("a.ipynb"),
            "jupyter",
            (code_cell(1, "import numpy as np\na = np.random.rand(3)\nb = np.random.choice([1, 2])", None),),
        ),
        CheckConfig(),
    )
    assert "(1 more call below)" in found[0].message


def test_numpy_seeded_and_unseeded_generators() -> None:
    assert unseeded(
        "import numpy as np\nfrom numpy.random import default_rng\n"
        "np.random.seed(0)\na = np.random.rand(3)\n"
        "rng = np.random.default_rng(42)\nb = rng.random(3)\n"
        "rs = np.random.RandomState(1)\nc = rs.sample(3)\n"
        "g1 = np.random.default_rng()\ng2 = default_rng(None)\ng3 = np.random.RandomState()\n"
        "state = np.random.get_state()"
    ) == [(1, 9, "np.random.default_rng()"), (1, 10, "default_rng(None)"), (1, 11, "np.random.RandomState()")]


def test_random_module() -> None:
    assert unseeded(
        "import random\nx = random.random()\ny = random.choice([1, 2])\n"
        "r = random.Random()\nr2 = random.Random(3)\npicked = r2.sample([1, 2], 1)\nsr = random.SystemRandom()"
    ) == [(1, 2, "random.random()"), (1, 4, "random.Random()")]
    assert unseeded("import random\nrandom.seed(42)\nx = random.random()") == []
    assert unseeded("import random\nrandom.seed()\nx = random.random()") == [(1, 3, "random.random()")]


def test_sklearn_split_and_explicit_none() -> None:
    assert unseeded(
        "from sklearn.model_selection import train_test_split\n"
        "from sklearn.ensemble import RandomForestClassifier\n"
        "a = train_test_split([1, 2], [3, 4])\n"
        "b = train_test_split([1, 2], random_state=0)\n"
        "c = train_test_split([1, 2], shuffle=False)\n"
        "m = RandomForestClassifier(random_state=None)\n"
        "m2 = RandomForestClassifier()"  # not covered: estimators are reported only for an explicit None
    ) == [(1, 3, "train_test_split([1, 2], [3, 4])"), (1, 6, "RandomForestClassifier(random_state=None)")]


def test_rand_in_sql_text_and_sql_cells() -> None:
    assert unseeded(
        "q = spark.sql('SELECT *, rand() AS r FROM t')\nz = df.selectExpr('randn( ) AS z')\n"
        "ok = spark.sql('SELECT rand(3)')",
        "%%sql\nSELECT *\nFROM t ORDER BY RAND()",
    ) == [(1, 1, "rand()"), (1, 2, "randn( )"), (2, 3, "RAND()")]


def test_the_notebooks_own_sample_method_is_not_judged() -> None:
    assert unseeded("class Pool:\n    def sample(self):\n        return 1\nPool().sample()") == []
