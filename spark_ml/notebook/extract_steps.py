"""Steps: the top-level DataFrame code of a notebook section, made a function `notebook extract` moves.

A section opens at a markdown heading of level 2 (`## Clean flights`, a `# MAGIC %md` cell in a
Databricks file) or at a code cell whose first line is `# step: NAME`; a level-1 heading closes it.
`# step: NAME` in the first code cell under a `##` heading names that heading's section. Code above
the first section is not a step.

Each top-level statement of a section is a *transformation* when it assigns one name a DataFrame
expression (the DataFrame heuristic of spark_ml.notebook.extract_plan: a chain of DataFrame methods
on a DataFrame, a call of a function returning one) that touches no I/O: no `spark.`, `dbutils.`,
`display`, `print`, `.show`, `.write`, `saveAsTable`, `collect`, `toPandas`... Everything else is
*kept* in the notebook: reads, writes, displays, widgets, imports, defs (which move as defs), other
values. A section with at least one transformation becomes

    def NAME(inputs...):
        <the transformations, as written>
        return OUTPUT            # or `return A, B` for several

placed where its first transformation was and called there (`OUTPUT = NAME(inputs...)`); the notebook
then extracts it like any other def, so the values it reads that are not inputs (a widget's value, an
UPPER_CASE constant) become keyword-only parameters passed at the call site.

- inputs: the names the transformations read before binding them, when they are DataFrames (or are
  rebound by the transformations: `df = df.where(...)` takes `df`), in order of first read;
- outputs: the names they bind that anything after them reads (a statement later in the section or
  notebook, a function body); none read: the last name bound. Several outputs give a tuple.

Kept statements before the first transformation stay before the call, those after the last stay after
it. One between two transformations moves before the call when it does not read what the earlier
transformations bind and does not rebind what they read or bind; otherwise (it displays an
intermediate, a `%sql` or magic cell sits between) the whole section stays in the notebook, with a
note naming it. Never runs the notebook.
"""

from __future__ import annotations

import ast
import io
import keyword
import re
import tokenize
from dataclasses import dataclass, field, replace

from spark_ml.notebook.analysis import Context
from spark_ml.notebook.extract_plan import ExtractError, StepTypes, is_frame
from spark_ml.notebook.model import Cell, Notebook
from spark_ml.notebook.scopes import NameRead, analyze

HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)[\s#]*$")
STEP_MARK = re.compile(r"^#\s*step:\s*(.*?)\s*$")
IO_ROOTS = frozenset({"spark", "dbutils", "sc", "sqlContext"})
IO_CALLS = frozenset({"display", "displayHTML", "print", "getArgument"})
IO_METHODS = frozenset(
    {
        "show", "write", "writeStream", "writeTo", "saveAsTable", "insertInto", "save", "collect", "toPandas",
        "toLocalIterator", "foreach", "foreachPartition",
        "createOrReplaceTempView", "createTempView", "createOrReplaceGlobalTempView", "printSchema", "explain",
    }
)  # fmt: skip
INDENT = "    "


@dataclass
class Section:
    name: str
    title: str
    """How the notebook shows it: `## Clean flights` or `# step: clean`."""
    cell: int
    """The heading or `# step:` cell that opens it."""
    cells: list[int] = field(default_factory=list)
    """Its Python cells and opaque (magic, other-language) cells, in order."""


@dataclass
class Unit:
    """One top-level statement of a section (or a whole cell that cannot be split: magics, `%sql`)."""

    cell: int
    start: int
    """First line in the cell, comments just above the statement included."""
    end: int
    node: ast.stmt | None
    transform: bool = False
    reads: list[str] = field(default_factory=list)
    binds: set[str] = field(default_factory=set)
    frames: frozenset[str] = frozenset()
    """For a transformation: the names judged DataFrames just before it runs."""


@dataclass
class Step:
    section: Section
    inputs: list[str]
    outputs: list[str]
    frames: list[str]
    """The inputs judged DataFrames (typed `DataFrame` in the module)."""
    transforms: list[Unit]
    hoisted: list[Unit]

    @property
    def cells(self) -> list[int]:
        return sorted({u.cell for u in self.transforms})


@dataclass
class Steps:
    steps: list[Step]
    notes: list[str]
    """Sections kept in the notebook as they are, and why."""
    sources: dict[int, str | None]
    """Cell number -> its text with the steps written as def + call (None: emptied by the move)."""

    def types(self) -> dict[str, StepTypes]:
        def returns(step: Step) -> str:
            return "DataFrame" if len(step.outputs) == 1 else f"tuple[{', '.join(['DataFrame'] * len(step.outputs))}]"

        return {s.section.name: StepTypes(tuple(s.frames), returns(s)) for s in self.steps}

    def notebook(self, notebook: Notebook) -> Notebook:
        """The notebook with the steps as defs and calls (what the def extraction then works on)."""
        cells = []
        for cell in notebook.cells:
            if cell.number in self.sources:
                text = self.sources[cell.number] or ""
                cell = replace(cell, source=text, raw=text)
            cells.append(cell)
        return replace(notebook, cells=tuple(cells))


def slug(title: str) -> str:
    """A heading as a Python function name: `## 1. Clean the flights!` -> `clean_the_flights` (after the number)."""
    words = re.sub(r"[^0-9a-zA-Z]+", "_", title).strip("_").lower()
    words = re.sub(r"^\d+_", "", words) or words
    if not words:
        return ""
    if words[0].isdigit():
        words = f"step_{words}"
    return f"{words}_" if keyword.iskeyword(words) else words


def _heading(cell: Cell) -> tuple[int, str] | None:
    lines = cell.raw.split("\n")
    if lines and lines[0].strip().lower() in ("%md", "%md-sandbox"):
        lines = lines[1:]
    for line in lines:
        if (match := HEADING.match(line)) is not None:
            return len(match.group(1)), match.group(2)
    return None


def _step_mark(cell: Cell) -> str | None:
    first = next((line for line in cell.source.split("\n") if line.strip()), "")
    match = STEP_MARK.match(first.strip())
    return None if match is None else match.group(1)


def sections(notebook: Notebook) -> list[Section]:
    out: list[Section] = []
    current: Section | None = None
    fresh = False  # the current section was opened by a heading and has no code cell yet
    for cell in notebook.cells:
        if cell.kind == "markdown":
            heading = _heading(cell)
            if heading is not None and heading[0] <= 2:
                current = None
                if heading[0] == 2:
                    current = Section(slug(heading[1]), f"## {heading[1]}", cell.number)
                    out.append(current)
                    fresh = True
            continue
        if cell.kind != "code":
            continue
        mark = _step_mark(cell) if cell.is_python else None
        if mark is not None:
            if not (mark.isidentifier() and not keyword.iskeyword(mark)):
                raise ExtractError(
                    f"cell {cell.number}: `# step: {mark}` does not name a Python function: write "
                    "`# step: NAME` with NAME a Python identifier (letters, digits, _)"
                )
            if current is not None and fresh:
                current.name, current.title = mark, f"{current.title} (# step: {mark})"
            else:
                current = Section(mark, f"# step: {mark}", cell.number)
                out.append(current)
        fresh = False
        if current is not None:
            current.cells.append(cell.number)
    return out


def names_of(cell: Cell, statement: ast.stmt) -> tuple[list[str], set[str]]:
    """(names it reads, in order; names it binds) at the notebook level, by the scope engine."""
    facts = analyze([(cell, ast.Module([statement], []))])
    reads: list[str] = []
    for event in facts.events:
        if event.kind == "read" and event.name not in reads:
            reads.append(event.name)
    return reads, {e.name for e in facts.events if e.kind == "bind"}


def touches_io(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and (sub.id in IO_ROOTS or sub.id in IO_CALLS):
            return True
        if isinstance(sub, ast.Attribute) and sub.attr in IO_METHODS:
            return True
    return False


def _units(cell: Cell, tree: ast.Module) -> list[Unit]:
    lines = cell.source.split("\n")
    units: list[Unit] = []
    previous_end = 0
    for statement in tree.body:
        start = min([statement.lineno, *(d.lineno for d in getattr(statement, "decorator_list", []))])
        while start - 1 > previous_end and lines[start - 2].lstrip().startswith("#"):
            if STEP_MARK.match(lines[start - 2].strip()):
                break
            start -= 1  # a comment just above goes with its statement
        end = statement.end_lineno or statement.lineno
        reads, binds = names_of(cell, statement)
        units.append(Unit(cell.number, start, end, statement, reads=reads, binds=binds))
        previous_end = end
    return units


def find_steps(ctx: Context, frame_functions: frozenset[str]) -> Steps:
    """The notebook's step sections, and the cell texts with each step written as a def and its call."""
    notebook = ctx.notebook
    found = sections(notebook)
    parsed = {p.cell.number: p for p in ctx.cells}
    names = {s.name for s in found}
    functions = frame_functions | names
    frames: set[str] = set()
    units_of: dict[int, list[Unit]] = {}
    for cell in notebook.cells:  # the DataFrame heuristic, statement by statement in notebook order
        if cell.number not in parsed:
            continue
        units_of[cell.number] = _units(cell, parsed[cell.number].tree)
        for unit in units_of[cell.number]:
            statement = unit.node
            if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                target = statement.targets[0]
                if isinstance(target, ast.Name):
                    frame = is_frame(statement.value, frames, functions)
                    unit.transform = frame and not touches_io(statement.value) and not cell.magics
                    unit.frames = frozenset(frames)
                    (frames.add if frame else frames.discard)(target.id)
    _refuse_bad_names(ctx, found)
    steps: list[Step] = []
    notes: list[str] = []
    later_reads = ctx.names.reads
    for section in found:
        units: list[Unit] = []
        for number in section.cells:
            cell = notebook.cells[number - 1]
            if number in units_of and not cell.magics:
                units += units_of[number]
            else:
                units.append(Unit(number, 0, 0, None))  # a cell to leave whole: magics, another language
        step, note = _step(section, units, later_reads)
        if note:
            notes.append(note)
        elif step is not None:
            steps.append(step)
    return Steps(steps, notes, _sources(notebook, units_of, steps))


def _refuse_bad_names(ctx: Context, found: list[Section]) -> None:
    seen: dict[str, Section] = {}
    for section in found:
        if not section.name:
            raise ExtractError(
                f"section `{section.title}` (cell {section.cell}) gives no function name: start its first code "
                "cell with `# step: NAME`"
            )
        if section.name in seen:
            other = seen[section.name]
            raise ExtractError(
                f"sections `{other.title}` (cell {other.cell}) and `{section.title}` (cell {section.cell}) would "
                f"both be step `{section.name}`: rename a heading or write `# step: NAME` in one of them"
            )
        seen[section.name] = section
        if section.name in ctx.bindings:
            raise ExtractError(
                f"section `{section.title}` (cell {section.cell}) would be step `{section.name}`, a name the "
                "notebook already binds: rename the heading or write `# step: NAME` under it"
            )


def _step(section: Section, units: list[Unit], reads: list[NameRead]) -> tuple[Step | None, str]:
    where = [i for i, u in enumerate(units) if u.transform]
    if not where:
        return None, ""
    first, last = where[0], where[-1]
    transforms = [units[i] for i in where]
    hoisted: list[Unit] = []
    bound: set[str] = set()
    used: set[str] = set()
    for unit in units[first : last + 1]:
        if unit.transform:
            bound |= unit.binds
            used |= set(unit.reads) | unit.binds
            continue
        if unit.node is None:
            return None, (
                f"section `{section.title}` (cell {section.cell}) stays in the notebook: cell {unit.cell} (magics or "
                "another language) sits between its DataFrame statements; move it above or below them"
            )
        clash = sorted((set(unit.reads) & bound) | (unit.binds & used))
        if clash:
            return None, (
                f"section `{section.title}` (cell {section.cell}) stays in the notebook: cell {unit.cell}, line "
                f"{unit.node.lineno} uses `{clash[0]}` between its DataFrame statements; move that statement below "
                "them, or split the section with a `# step: NAME` cell"
            )
        hoisted.append(unit)
    inputs: list[str] = []
    frames_in: list[str] = []
    bound = set()
    run_binds = set().union(*(u.binds for u in transforms))
    for unit in transforms:
        for name in unit.reads:
            if name not in bound and name not in inputs and (name in unit.frames or name in run_binds):
                inputs.append(name)
                if name in unit.frames:
                    frames_in.append(name)
        bound |= unit.binds
    end = (transforms[-1].cell, transforms[-1].end)
    outputs: list[str] = []
    for unit in transforms:
        for name in sorted(unit.binds):
            later = any(r.name == name and (r.deferred or r.position > end) for r in reads)
            if later and name not in outputs:
                outputs.append(name)
    if not outputs:
        outputs = sorted(transforms[-1].binds)
    return Step(section, inputs, outputs, frames_in, transforms, hoisted), ""


def indent(text: str) -> str:
    """Each line indented by four spaces, except those inside a multi-line string."""
    inside: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(text + "\n").readline):
            if token.type == tokenize.STRING and token.end[0] > token.start[0]:
                inside |= set(range(token.start[0] + 1, token.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):
        pass
    return "\n".join(
        line if number in inside or not line.strip() else INDENT + line
        for number, line in enumerate(text.split("\n"), 1)
    )


def _unit_text(lines: list[str], unit: Unit) -> str:
    return "\n".join(lines[unit.start - 1 : unit.end]).strip("\n")


def step_text(step: Step, lines_of: dict[int, list[str]]) -> str:
    body = "\n".join(indent(_unit_text(lines_of[u.cell], u)) for u in step.transforms)
    outputs = ", ".join(step.outputs)
    call = f"{outputs} = {step.section.name}({', '.join(step.inputs)})"
    return f"def {step.section.name}({', '.join(step.inputs)}):\n{body}\n{INDENT}return {outputs}\n{call}"


def _sources(notebook: Notebook, units_of: dict[int, list[Unit]], steps: list[Step]) -> dict[int, str | None]:
    lines_of = {number: notebook.cells[number - 1].source.split("\n") for number in units_of}
    moved = {id(u) for s in steps for u in [*s.transforms, *s.hoisted]}
    placed = {id(s.transforms[0]): s for s in steps}
    out: dict[int, str | None] = {}
    for number in sorted({u.cell for s in steps for u in [*s.transforms, *s.hoisted]}):
        lines = lines_of[number]
        units = units_of[number]
        pieces = ["\n".join(lines[: units[0].start - 1]).rstrip("\n")] if units else []
        for unit in units:
            step = placed.get(id(unit))
            if step is not None:
                pieces += [_unit_text(lines_of[u.cell], u) for u in step.hoisted]
                pieces.append(step_text(step, lines_of))
            elif id(unit) not in moved:
                pieces.append(_unit_text(lines, unit))
        pieces.append("\n".join(lines[units[-1].end :]).strip("\n") if units else "")
        text = "\n".join(p for p in pieces if p.strip())
        out[number] = text if text.strip() else None
    return out
