"""The documented commands still work, and the outputs the docs show are still what they print.

Every ``bnnmip ...`` command in a fenced code block of README.md and docs/*.md is run, in the
order it appears, one scratch folder per page (so ``predict bcw.json`` finds the ``bcw.json``
an earlier ``train`` wrote; ``docs/experiments`` is copied in for commands that read its
stores). Commands are taken from ``bash``/``sh`` blocks (``.venv/bin/bnnmip ...`` or
``bnnmip ...``, also after ``&&``, with ``\\`` continuations) and from ``$ bnnmip ...`` lines of
``text`` blocks.

Shown output is compared: the lines after the last ``$`` command of a ``text`` block, or a
``text`` block right after a ``bash`` block with one command, must each appear in what the
command prints (stdout and stderr), after masking seconds (``0.06 s`` -> ``<t> s``; a summary's
``time`` line as a whole) and solver
versions, and collapsing spaces.

Marker comments (an HTML comment on the line right before the fence, invisible when
rendered) adjust a block:

- ``<!-- docs-test: skip REASON -->``: do not run it (say why: e.g. a 74-minute grid);
- ``<!-- docs-test: output-varies REASON -->``: run it, but do not compare its output (e.g. a
  time-limited search whose result depends on machine speed);
- ``<!-- docs-test: args SUBCOMMAND ARGS -->``: append ``ARGS`` to each of its ``bnnmip
  SUBCOMMAND`` commands to keep them cheap (e.g. ``args compare --max-points 24`` for a grid, or
  a solver node limit): the command's own options still have to parse and work.

Python blocks (```` ```python ````) of a page run too, in order, as one script in a scratch
folder (a later block sees an earlier block's names, as a reader would run them); the same
``skip`` marker leaves out fragments (``clf = BDNNClassifier(...)`` alone) and long runs.

No assertion depends on wall-clock time; the subprocess timeout only guards against a hang.
"""

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
HANG_GUARD = 900  # seconds; never reached by a working command

FENCE = re.compile(r"^```(\w*)\s*$")
MARKER = re.compile(r"<!--\s*docs-test:\s*(skip|output-varies|args)\b(.*?)-->")
COMMAND = re.compile(r"^(?:\.venv/bin/)?bnnmip(?:\s|$)")


def _blocks(text: str):
    """(language, lines, marker, line number) of every fenced block."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang, body = i, m.group(1), []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1
        prev = next((ln for ln in reversed(lines[:start]) if ln.strip()), "")
        mk = MARKER.search(prev)
        yield lang, body, (mk.group(1), mk.group(2).strip()) if mk else None, start + 1


def _join_continuations(lines):
    out, buf = [], ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
        else:
            out.append(buf + line)
            buf = ""
    if buf:
        out.append(buf)
    return out


def _commands_of(lang, body):
    """The bnnmip commands of a block, and the output lines it shows (or None)."""
    if lang in ("bash", "sh", "shell", "console"):
        cmds = []
        for line in _join_continuations(body):
            for part in line.split("&&"):
                part = part.strip()
                if COMMAND.match(part):
                    cmds.append(part)
        return cmds, None
    if lang == "text" and any(ln.startswith("$ ") for ln in body):
        cmds, last = [], -1
        for j, line in enumerate(_join_continuations(body)):
            if line.startswith("$ "):
                if COMMAND.match(line[2:].strip()):
                    cmds.append(line[2:].strip())
                last = j
        return cmds, _join_continuations(body)[last + 1:]
    return [], None


def collect():
    """One case per documented command: (page, index, command, expected output, marker)."""
    cases = []
    for page in PAGES:
        blocks = list(_blocks(page.read_text(encoding="utf-8")))
        for b, (lang, body, marker, lineno) in enumerate(blocks):
            cmds, shown = _commands_of(lang, body)
            if not cmds:
                continue
            if shown is None and len(cmds) == 1 and b + 1 < len(blocks):
                nxt = blocks[b + 1]
                if nxt[0] == "text" and not any(ln.startswith("$ ") for ln in nxt[1]):
                    shown = nxt[1]
            for k, cmd in enumerate(cmds):
                expected = shown if k == len(cmds) - 1 else None
                cases.append((page, lineno, cmd, expected, marker))
    return cases


CASES = collect()


def _normalize(line: str) -> str:
    line = re.sub(r"\d+(?:\.\d+)?\s*s\b", "<t> s", line)
    if line.lstrip().startswith("time "):  # the time line's parts depend on the machine's speed
        return "time <varies>"
    line = re.sub(r"\b(highs|scip|cbc|gurobi)\s+\d+(?:\.\d+)+", r"\1 <version>", line)
    return " ".join(line.split())


def stale_lines(expected: list[str], printed: str) -> list[str]:
    """The shown lines that the command's output no longer has (after normalizing both)."""
    got = {_normalize(line) for line in printed.splitlines()}
    return [line for line in expected if line.strip() and _normalize(line) not in got]


def _argv(cmd: str, extra: str) -> list[str]:
    words = shlex.split(cmd, comments=True)
    return [sys.executable, "-m", "bnnmip", *words[1:], *shlex.split(extra)]


@pytest.fixture(scope="module")
def workdirs(tmp_path_factory):
    dirs = {}

    def get(page: Path) -> Path:
        if page not in dirs:
            d = tmp_path_factory.mktemp(page.stem)
            shutil.copytree(ROOT / "docs" / "experiments", d / "docs" / "experiments")
            dirs[page] = d
        return dirs[page]

    return get


def test_commands_were_found():
    pages = {c[0].name for c in CASES}
    assert {"README.md", "quickstart.md", "strategies.md", "experiments.md"} <= pages, pages
    assert len(CASES) >= 15


@pytest.mark.slow
@pytest.mark.parametrize(
    ("page", "lineno", "cmd", "expected", "marker"),
    CASES,
    ids=[f"{c[0].name}:{c[1]}:{c[2].split()[1] if len(c[2].split()) > 1 else ''}" for c in CASES],
)
def test_documented_command(page, lineno, cmd, expected, marker, workdirs):
    kind, arg = marker or (None, "")
    if kind == "skip":
        pytest.skip(f"{page.name}:{lineno} marked skip: {arg}")
    cwd = workdirs(page)
    extra = ""
    if kind == "args":
        subcommand, _, extra = arg.partition(" ")
        if shlex.split(cmd, comments=True)[1] != subcommand:
            extra = ""
    proc = subprocess.run(_argv(cmd, extra), cwd=cwd, capture_output=True, text=True,
                          timeout=HANG_GUARD)
    printed = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{page.name}:{lineno}: `{cmd}` exited {proc.returncode}:\n{printed}"
    if expected is None or kind == "output-varies":
        return
    stale = stale_lines(expected, printed)
    assert not stale, (
        f"{page.name}:{lineno}: the output shown for `{cmd}` is stale; these lines are no longer "
        f"printed:\n" + "\n".join(stale) + "\n--- it now prints:\n" + printed
    )


def test_extras_named_in_messages_and_docs_exist():
    """Every ``bnnmip[extra]`` an error message or a page suggests is an extra of the package."""
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    files = [*PAGES, *(ROOT / "core").rglob("*.py")]
    named = {m for f in files for m in re.findall(r"bnnmip\[(\w+)\]", f.read_text(encoding="utf-8"))}
    assert named, "no bnnmip[...] found: the search is broken"
    assert named <= extras, f"suggested but not defined: {sorted(named - extras)}"


def test_the_checker_itself():
    page = """
<!-- docs-test: args train --train-size 9 -->
```bash
python3 -m venv .venv && .venv/bin/bnnmip train iris --hidden 2 \\
    --seed 1   # a comment
```

```text
  time   build 0.01 s, total 0.20 s
  solve  highs 1.16.0: OPTIMAL
```

```text
$ bnnmip predict a.json iris
$ bnnmip evaluate a.json iris
radius 0.1
```
"""
    blocks = list(_blocks(page))
    assert [b[0] for b in blocks] == ["bash", "text", "text"]
    assert blocks[0][2] == ("args", "train --train-size 9") and blocks[1][2] is None
    cmds, shown = _commands_of("bash", blocks[0][1])
    assert cmds == [".venv/bin/bnnmip train iris --hidden 2      --seed 1   # a comment"] and shown is None
    assert _argv(cmds[0], "--x 1")[3:] == ["train", "iris", "--hidden", "2", "--seed", "1", "--x", "1"]
    cmds, shown = _commands_of("text", blocks[2][1])
    assert cmds == ["bnnmip predict a.json iris", "bnnmip evaluate a.json iris"] and shown == ["radius 0.1"]
    # timings and solver versions may change, anything else is stale
    printed = "  time   build 0.03 s, total 1.5 s\n  solve  highs 1.17.2: OPTIMAL\n"
    assert stale_lines(blocks[1][1], printed) == []
    feasible = printed.replace("OPTIMAL", "FEASIBLE")
    assert stale_lines(blocks[1][1], feasible) == ["  solve  highs 1.16.0: OPTIMAL"]


def collect_python():
    """Per page with Python blocks: (page, [(line number, code, marker)])."""
    out = []
    for page in PAGES:
        blocks = [(lineno, "\n".join(body), marker)
                  for lang, body, marker, lineno in _blocks(page.read_text(encoding="utf-8"))
                  if lang == "python"]
        if blocks:
            out.append((page, blocks))
    return out


PYTHON = collect_python()


@pytest.mark.slow
@pytest.mark.parametrize(("page", "blocks"), PYTHON, ids=[p.name for p, _ in PYTHON])
def test_documented_python(page, blocks, tmp_path):
    run = [(lineno, code) for lineno, code, marker in blocks if not (marker and marker[0] == "skip")]
    if not run:
        pytest.skip(f"{page.name}: every Python block is marked skip")
    script = "\n\n".join(f"# --- {page.name}:{lineno}\n{code}" for lineno, code in run)
    (tmp_path / "doc_blocks.py").write_text(script, encoding="utf-8")
    proc = subprocess.run([sys.executable, "doc_blocks.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=HANG_GUARD)
    assert proc.returncode == 0, (
        f"{page.name}: the Python blocks at lines {[n for n, _ in run]} failed:\n{proc.stderr}"
    )


def test_python_blocks_were_found():
    pages = {p.name: len(b) for p, b in PYTHON}
    assert pages.get("README.md") == 1 and pages.get("quickstart.md", 0) >= 2, pages
