"""NB505: randomness without a seed: a rerun gives other rows, other splits, other metrics.

Reported, per call unless said otherwise:

- Spark: `df.randomSplit(weights)` and `df.sample(...)`, `df.sampleBy(col, fractions)`,
  `rdd.takeSample(...)` without a seed (`seed=` or the seed position; pandas' `random_state=` counts
  too), `F.rand()` / `F.randn()` (or `rand()` imported from pyspark.sql.functions) without a seed, and
  `rand()` / `randn()` in SQL text (`spark.sql`, `F.expr`, `selectExpr`, `filter`/`where` strings,
  `%sql` cells).
- NumPy: the legacy global generator (`np.random.rand`, `np.random.choice`, `np.random.shuffle`... any
  `numpy.random` function that draws) when no `np.random.seed(...)` with a value is above it, reported
  once at the first such call; `np.random.default_rng()`, `RandomState()` and bit generators
  (`PCG64()`...) created without a seed. `default_rng(42)` does not seed the global generator.
- The standard library: `random.random()`, `random.choice(...)`... when no `random.seed(...)` with a
  value is above it (once, at the first call); `random.Random()` without a seed.
- scikit-learn: `train_test_split(...)` without `random_state` (unless `shuffle=False`), and any
  sklearn call given `random_state=None`.

Not covered: estimators that take a seed (Spark ML's default seeds are fixed per class, so they are
reproducible; scikit-learn estimators are reported only for an explicit `random_state=None`),
PyTorch, TensorFlow, JAX, and `TABLESAMPLE` in SQL. Calls are recognised through the notebook's
imports (`import numpy as np`, `from pyspark.sql import functions as F`...); a method is judged by
its name and arguments alone, and an ambiguous `sample(a, b)` is given the benefit of the doubt.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

from spark_ml.notebook.analysis import Context
from spark_ml.notebook.model import Hit

SPARK_FUNCTIONS = frozenset({"pyspark.sql.functions", "pyspark.sql.connect.functions", "pyspark.sql.functions.builtin"})
NUMPY_RANDOM = "numpy.random"
# numpy.random attributes that do not draw from the global generator.
NUMPY_NOT_DRAWING = frozenset(
    {"seed", "get_state", "set_state", "get_bit_generator", "set_bit_generator", "Generator", "BitGenerator"}
)
NUMPY_GENERATORS = frozenset({"default_rng", "RandomState", "PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"})
STDLIB_DRAWING = frozenset(
    {"random", "uniform", "randint", "randrange", "choice", "choices", "sample", "shuffle", "gauss"}
    | {"normalvariate", "lognormvariate", "expovariate", "vonmisesvariate", "gammavariate", "betavariate"}
    | {"paretovariate", "weibullvariate", "triangular", "getrandbits", "randbytes", "binomialvariate"}
)
SEED_KEYWORDS = frozenset({"seed", "random_state", "random_seed"})
# method -> index of the seed among positional arguments
SEEDED_METHODS = {"randomSplit": 1, "sampleBy": 2, "takeSample": 2}
SQL_METHODS = frozenset({"sql", "expr", "selectExpr", "filter", "where"})
SQL_RAND = re.compile(r"\b(randn?)\s*\(\s*\)", re.IGNORECASE)


@dataclass(frozen=True)
class _Call:
    cell: int
    node: ast.Call

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.cell, self.node.lineno, self.node.col_offset)


def check_randomness(ctx: Context) -> Iterator[Hit]:
    aliases, star_modules = _imports(ctx)
    calls = sorted(
        (_Call(p.cell.number, node) for p in ctx.cells for node in ast.walk(p.tree) if isinstance(node, ast.Call)),
        key=lambda c: c.key,
    )
    hits: list[Hit] = []
    seeded: dict[str, tuple[int, int, int]] = {}
    unseeded: dict[str, list[_Call]] = {}
    generators = _generator_names(ctx, aliases)
    own_methods = frozenset(
        node.name
        for p in ctx.cells
        for node in ast.walk(p.tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    )
    for call in calls:
        path = _qualified(call.node.func, aliases)
        func = call.node.func
        if path is None and isinstance(func, ast.Name) and func.id in ("rand", "randn") and func.id not in aliases:
            path = f"pyspark.sql.functions.{func.id}" if star_modules & SPARK_FUNCTIONS else None
        if path is not None:
            library = _global_generator(path)
            if library is not None:
                if path.rsplit(".", 1)[1] == "seed":
                    if _has_value(call.node.args[:1]) or _seed_keyword(call.node) is True:
                        seeded.setdefault(library, call.key)
                elif library not in seeded:
                    unseeded.setdefault(library, []).append(call)
                continue
            hit = _judge_function(call, path)
        else:
            hit = _judge_method(call, generators, own_methods)
        if hit is not None:
            hits.append(hit)
        hits.extend(_sql_text(call))
    for library, found in unseeded.items():
        hits.append(_global_hit(library, found))
    hits.extend(_sql_cells(ctx))
    yield from sorted(hits, key=lambda h: (h.cell, h.line, h.message))


def _imports(ctx: Context) -> tuple[dict[str, str], frozenset[str]]:
    """Local name -> dotted path it was imported as; and the modules star-imported."""
    aliases: dict[str, str] = {}
    stars: set[str] = set()
    for parsed in ctx.cells:
        for node in ast.walk(parsed.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        aliases[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        aliases[top] = top
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if alias.name == "*":
                        stars.add(node.module)
                    else:
                        aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases, frozenset(stars)


def _qualified(node: ast.expr, aliases: dict[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id in aliases:
        return ".".join([aliases[node.id], *reversed(parts)])
    return None


def _generator_names(ctx: Context, aliases: dict[str, str]) -> frozenset[str]:
    """Names assigned a generator object (`rng = np.random.default_rng(...)`): their methods are not judged."""
    names: set[str] = set()
    for parsed in ctx.cells:
        for node in ast.walk(parsed.tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                path = _qualified(node.value.func, aliases) or ""
                last = path.rsplit(".", 1)[-1]
                if (path.startswith(f"{NUMPY_RANDOM}.") and last in NUMPY_GENERATORS | {"Generator"}) or path in (
                    "random.Random",
                    "random.SystemRandom",
                ):
                    names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return frozenset(names)


def _global_generator(path: str) -> str | None:
    """'numpy' or 'random' when the call draws from (or seeds) a global generator."""
    module, _, function = path.rpartition(".")
    if module == NUMPY_RANDOM and function not in NUMPY_NOT_DRAWING - {"seed"} and function not in NUMPY_GENERATORS:
        return "numpy"
    if module == "random" and (function in STDLIB_DRAWING or function == "seed"):
        return "random"
    return None


def _has_value(args: list[ast.expr]) -> bool:
    return bool(args) and not (isinstance(args[0], ast.Constant) and args[0].value is None)


def _seed_keyword(call: ast.Call) -> bool | None:
    """True: a seed keyword with a value; False: `seed=None`; None: no seed keyword."""
    for keyword in call.keywords:
        if keyword.arg in SEED_KEYWORDS:
            return not (isinstance(keyword.value, ast.Constant) and keyword.value.value is None)
    return None


def _snippet(call: ast.Call) -> str:
    text = ast.unparse(call)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _hit(call: _Call, what: str, fix: str) -> Hit:
    return Hit("NB505", call.cell, call.node.lineno, what, fix)


def _judge_function(call: _Call, path: str) -> Hit | None:
    node = call.node
    module, _, function = path.rpartition(".")
    keyword = _seed_keyword(node)
    if module in SPARK_FUNCTIONS and function in ("rand", "randn"):
        if keyword is True or (keyword is None and _has_value(node.args[:1])):
            return None
        return _hit(
            call,
            f"`{_snippet(node)}` has no seed: every run gives each row another value",
            f"pass a seed: {ast.unparse(node.func)}(seed=42)",
        )
    if (module == NUMPY_RANDOM and function in NUMPY_GENERATORS) or path == "random.Random":
        if keyword is True or (keyword is None and _has_value(node.args[:1])):
            return None
        return _hit(
            call,
            f"`{_snippet(node)}` creates a generator without a seed: every run draws other numbers",
            f"pass a seed: {ast.unparse(node.func)}(42)",
        )
    if module.split(".")[0] == "sklearn":
        if keyword is False:
            return _hit(call, f"`{_snippet(node)}` passes random_state=None: every run differs", "pass random_state=42")
        shuffles = not any(k.arg == "shuffle" and _is_false(k.value) for k in node.keywords)
        if function == "train_test_split" and keyword is None and shuffles:
            return _hit(
                call,
                f"`{_snippet(node)}` has no random_state: every run splits the rows differently",
                "pass random_state=42",
            )
    return None


def _is_false(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _judge_method(call: _Call, generators: frozenset[str], own_methods: frozenset[str]) -> Hit | None:
    node = call.node
    func = node.func
    if not isinstance(func, ast.Attribute) or func.attr in own_methods:  # the notebook's own `def sample`
        return None
    receiver = func.value
    if isinstance(receiver, ast.Name) and receiver.id in generators:
        return None
    method = func.attr
    keyword = _seed_keyword(node)
    if method in SEEDED_METHODS:
        position = SEEDED_METHODS[method]
        if keyword is True or (keyword is None and _has_value(node.args[position : position + 1])):
            return None
    elif method == "sample":
        if keyword is True or (keyword is None and _sample_has_seed(node.args)):
            return None
    else:
        return None
    what = {"randomSplit": "splits the rows differently", "takeSample": "takes other rows"}.get(
        method, "samples other rows"
    )
    return _hit(
        call,
        f"`{_snippet(node)}` has no seed: every run {what}, so results cannot be reproduced",
        f"pass a seed: .{method}(..., seed=42) (pandas: random_state=42)",
    )


def _sample_has_seed(args: list[ast.expr]) -> bool:
    """Spark's sample(fraction, seed) or sample(withReplacement, fraction, seed); pandas passes random_state by name."""
    if not args:
        return False
    first = args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, bool):
        return _has_value(args[2:3])
    return _has_value(args[1:2])


def _global_hit(library: str, found: list[_Call]) -> Hit:
    first = found[0]
    more = len(found) - 1
    also = f" ({more} more call{'s' if more > 1 else ''} below)" if more else ""
    if library == "numpy":
        what = (
            f"`{_snippet(first.node)}` draws from NumPy's global generator and no np.random.seed(...) above "
            f"seeds it{also}: every run draws other numbers"
        )
        fix = "draw from one seeded generator (rng = np.random.default_rng(42)), or call np.random.seed(42) first"
    else:
        what = (
            f"`{_snippet(first.node)}` draws from the random module's global generator and no random.seed(...) "
            f"above seeds it{also}: every run draws other numbers"
        )
        fix = "call random.seed(42) first, or draw from rng = random.Random(42)"
    return _hit(first, what, fix)


def _sql_text(call: _Call) -> Iterator[Hit]:
    func = call.node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if name not in SQL_METHODS:
        return
    for arg in call.node.args:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            match = SQL_RAND.search(arg.value)
            if match:
                yield Hit(
                    "NB505",
                    call.cell,
                    arg.lineno + arg.value[: match.start()].count("\n"),
                    f"`{match.group(0)}` in SQL has no seed: every run gives each row another value",
                    f"pass a seed: {match.group(1).lower()}(42)",
                )


def _sql_cells(ctx: Context) -> Iterator[Hit]:
    for cell in ctx.notebook.code_cells:
        if cell.language != "sql":
            continue
        for number, line in enumerate(cell.raw.splitlines(), 1):
            match = SQL_RAND.search(line)
            if match:
                yield Hit(
                    "NB505",
                    cell.number,
                    number,
                    f"`{match.group(0)}` in SQL has no seed: every run gives each row another value",
                    f"pass a seed: {match.group(1).lower()}(42)",
                )
