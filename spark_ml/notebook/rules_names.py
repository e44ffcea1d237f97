"""NB202: a name read that nothing in the notebook defines.

Reported once per name, at its first read, when no cell binds it (assignment, import, def, class,
loop or `with` target, walrus, `except ... as`, `match` capture, a `global` assignment in a function,
a magic that assigns), it is not a builtin, and the runtime does not provide it:

- Databricks notebooks: `spark`, `sc`, `sqlContext`, `dbutils`, `display`, `displayHTML`, `table`,
  `sql`, `udf`, `getArgument` (the names Databricks' own editor stubs declare), and `_sqldf`
  (the result of the last `%sql` cell);
- IPython: `get_ipython`, `display`, `In`, `Out`, `exit`, `quit`, and the output history `_`, `__`,
  `___`, `_N`, `_i`, `_iN`, `_ih`, `_oh`, `_dh`;
- `notebook.allowed_globals`.

A name bound anywhere in the notebook is not this rule's business: if it is bound below its use, that
is NB201. Reads below a `from x import *`, `%run`, `%store -r`, `exec()` or `globals()` are not judged
(anything may exist from there on), nor reads inside functions when the notebook has any of those, nor
reads in a `try` whose handler catches NameError (or Exception, or everything).
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterator

from spark_ml.notebook.analysis import Context
from spark_ml.notebook.model import Hit
from spark_ml.notebook.scopes import NameRead

BUILTINS = frozenset(dir(builtins)) | {"__builtins__", "__name__", "__doc__"}
DATABRICKS_GLOBALS = frozenset(
    {"spark", "sc", "sqlContext", "dbutils", "display", "displayHTML", "table", "sql", "udf", "getArgument", "_sqldf"}
)
IPYTHON_GLOBALS = frozenset(
    {"get_ipython", "display", "In", "Out", "exit", "quit", "_", "__", "___", "_i", "_ii", "_iii", "_ih", "_oh", "_dh"}
)
PROVIDED = DATABRICKS_GLOBALS | IPYTHON_GLOBALS
_HISTORY = re.compile(r"^_i?\d+$")


def is_provided(name: str, allowed: frozenset[str] = frozenset()) -> bool:
    """A builtin, a name Databricks or IPython put in every notebook, or one the config allows."""
    return name in BUILTINS or name in PROVIDED or name in allowed or _HISTORY.match(name) is not None


def check_undefined_names(ctx: Context) -> Iterator[Hit]:
    if ctx.notebook.language != "python":
        return
    facts = ctx.names
    allowed = ctx.options.allowed_globals
    undefined: dict[str, list[NameRead]] = {}
    for read in facts.reads:
        name = read.name
        if read.guarded or name in facts.bound or name in facts.unparsed_words or is_provided(name, allowed):
            continue
        if (facts.first_open if read.deferred else facts.open_at(read.position)) is not None:
            continue
        undefined.setdefault(name, []).append(read)
    for name, reads in undefined.items():
        yield _undefined(name, reads)


def _undefined(name: str, reads: list[NameRead]) -> Hit:
    first = reads[0]
    others = sorted({r.cell for r in reads[1:]} - {first.cell})
    also = f" (also read in cell{'s' if len(others) > 1 else ''} {', '.join(map(str, others))})" if others else ""
    if first.deferred:
        where = f"`{name}` is read by `{first.scope}` in cell {first.cell}{also}"
        effect = "calling it in a fresh kernel raises NameError"
    else:
        where = f"`{name}` is read in cell {first.cell}{also}"
        effect = "a fresh top-to-bottom run raises NameError here"
    return Hit(
        "NB202",
        first.cell,
        first.line,
        f"{where} but no cell defines or imports it: {effect} (it exists only in the kernel that ran this)",
        f"import or assign `{name}` in a cell above its first use, or delete the use; a name the runtime "
        "provides can be listed in notebook.allowed_globals",
    )
