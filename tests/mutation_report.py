"""`make mutation`: run mutmut over the chosen modules, print the surviving mutants with file:line, write a report.

    python tests/mutation_report.py [--jobs N] [--report-only] MODULE.py ...

mutmut (configured in pyproject.toml, [tool.mutmut]) copies the tree into mutants/, mutates the modules and runs,
for each mutant, the fast tests that reach the mutated function. This script turns module paths into mutmut's
mutant-name patterns (settings/rules.py -> settings.rules.*), runs it (every mutant of those modules is re-run,
so tests added since the last run count), then reads its results and prints each survivor as
`file:line  mutant-name  - original / + mutant`. Survivors judged equivalent (no observable effect) are listed
with the reason in tests/mutation_equivalent.txt and counted apart; the kill figure is
killed / (mutants - equivalent). The full report, with diffs, goes to mutants/mutation-report.md.
Not a test module (no test_ prefix): pytest does not collect it.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT_FILE = ROOT / "tests" / "mutation_equivalent.txt"
REPORT = ROOT / "mutants" / "mutation-report.md"
CLASS_SEP = "ǁ"  # mutmut's separator in the names of mutated methods
KILLED = {"killed", "timeout", "caught by type check", "segfault"}


@dataclass
class Mutant:
    name: str
    path: str
    status: str
    line: int | None = None
    before: str = ""
    after: str = ""
    diff: str = ""


def module_pattern(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".") + ".*"


def has_functions(path: str) -> bool:
    """mutmut mutates inside functions and methods only: a module of constants has no mutants."""
    tree = ast.parse((ROOT / path).read_text())
    return any(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) for n in ast.walk(tree))


def read_equivalent() -> dict[str, str]:
    out = {}
    if EQUIVALENT_FILE.exists():
        for raw in EQUIVALENT_FILE.read_text().splitlines():
            line = raw.strip()
            if line and not line.startswith("#"):
                name, _, why = line.partition("|")
                out[name.strip()] = why.strip()
    return out


def run_mutmut(paths: list[str], jobs: int) -> int:
    patterns = [module_pattern(p) for p in paths]
    cmd = [str(Path(sys.executable).with_name("mutmut")), "run", "--max-children", str(jobs), *patterns]
    print("==>", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT)


def load_results(paths: list[str]) -> list[Mutant]:
    from mutmut.stats import status_by_exit_code

    mutants = []
    for path in paths:
        meta = ROOT / "mutants" / (path + ".meta")
        if not meta.exists():
            continue
        data = json.loads(meta.read_text())
        for name, code in sorted(data.get("exit_code_by_key", {}).items(), key=lambda kv: _natural(kv[0])):
            mutants.append(Mutant(name, path, status_by_exit_code[code]))
    return mutants


def _natural(name: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))


def locate(m: Mutant) -> None:
    """The mutated line in the original file, from mutmut's diff of the function."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        m.diff = get_diff_for_mutant(m.name, path=m.path)
    finally:
        os.chdir(cwd)
    offset, before, after = _first_change(m.diff)
    m.before, m.after = before.strip(), after.strip()
    start = _function_start(m)
    if start is not None and offset is not None:
        m.line = start + offset


def _first_change(diff: str) -> tuple[int | None, str, str]:
    line_no, offset, before, after = None, None, "", ""
    for text in diff.splitlines():
        hunk = re.match(r"@@ -(\d+)", text)
        if hunk:
            line_no = int(hunk.group(1)) - 1
            continue
        if line_no is None or text.startswith(("---", "+++")):
            continue
        if text.startswith("-"):
            if offset is None:
                offset, before = line_no, text[1:]
            line_no += 1
        elif text.startswith("+"):
            if offset is None:
                offset = line_no
            if not after:
                after = text[1:]
        else:
            if offset is not None:
                break
            line_no += 1
    return offset, before, after


def _function_start(m: Mutant) -> int | None:
    mangled = m.name.partition("__mutmut_")[0].rpartition(".")[2]
    if CLASS_SEP in mangled:
        cls, func = mangled.split(CLASS_SEP)[1:3]
    else:
        cls, func = None, mangled.removeprefix("x_")
    tree = ast.parse((ROOT / m.path).read_text())
    scopes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls] if cls else [tree]
    for scope in scopes:
        for node in scope.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == func:
                return min([node.lineno] + [d.lineno for d in node.decorator_list])
    return None


def report(paths: list[str]) -> int:
    equivalent = read_equivalent()
    mutants = load_results(paths)
    pending = [m for m in mutants if m.status == "not checked"]  # an interrupted or unfinished run
    # an equivalent mutant may also run out of time (its tests all pass, slowly, on a busy machine): not a kill
    survivors = [m for m in mutants if m.status != "not checked"
                 and (m.status not in KILLED or (m.status == "timeout" and m.name in equivalent))]
    for m in survivors:
        locate(m)
    lines = ["# Mutation testing report (generated by tests/mutation_report.py; not committed)", ""]
    lines += ["| module | mutants | killed | equivalent | not killed | kill rate of non-equivalent |",
              "|---|---|---|---|---|---|"]
    print()
    print(f"{'module':45} {'mutants':>7} {'killed':>7} {'equiv':>6} {'open':>5}  kill rate")
    for path in paths:
        mine = [m for m in mutants if m.path == path]
        if not mine:
            note = "no functions: nothing to mutate" if not has_functions(path) else "not run yet"
            print(f"{path:45} {'-':>7}  ({note})")
            lines.append(f"| {path} | 0 | - | - | - | {note} |")
            continue
        killed = sum(m.status in KILLED and m not in survivors for m in mine)
        waiting = sum(m.status == "not checked" for m in mine)
        equiv = sum(m in survivors and m.name in equivalent for m in mine)
        open_ = len(mine) - killed - equiv - waiting
        rate = 100.0 * killed / max(1, len(mine) - equiv - waiting)
        note = f" ({waiting} not run yet)" if waiting else ""
        print(f"{path:45} {len(mine):7} {killed:7} {equiv:6} {open_:5}  {rate:.1f}%{note}")
        lines.append(f"| {path} | {len(mine)} | {killed} | {equiv} | {open_} | {rate:.1f}%{note} |")
    stale = [n for n in equivalent if any(m.name == n and m.status in KILLED - {"timeout"} for m in mutants)]
    print()
    open_ones = [m for m in survivors if m.name not in equivalent]
    equivalent_ones = [m for m in survivors if m.name in equivalent]
    for title, group in (("NOT KILLED", open_ones), ("equivalent (tests/mutation_equivalent.txt)", equivalent_ones)):
        print(f"{title}: {len(group)}")
        lines += ["", f"## {title}: {len(group)}", ""]
        for m in group:
            where = f"{m.path}:{m.line or '?'}"
            print(f"  {where:45} {m.name}  [{m.status}]")
            print(f"      - {m.before}")
            print(f"      + {m.after}")
            lines += [f"### {where} `{m.name}` ({m.status})", ""]
            if m.name in equivalent:
                lines += [f"Equivalent: {equivalent[m.name]}", ""]
            lines += ["```diff", m.diff, "```", ""]
    if pending:
        print(f"{len(pending)} mutants not run yet (interrupted run?): run the command again")
    if stale:
        print(f"equivalent entries now killed (remove them from {EQUIVALENT_FILE.name}): {', '.join(stale)}")
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n")
    print(f"\nreport: {REPORT.relative_to(ROOT)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="+", help="source files, e.g. settings/rules.py")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested in parallel (default 2)")
    parser.add_argument("--report-only", action="store_true", help="report the last run's results, run nothing")
    args = parser.parse_args(argv)
    paths = [str(Path(p)) for p in args.modules]
    missing = [p for p in paths if not (ROOT / p).is_file()]
    if missing:
        parser.error(f"no such module: {', '.join(missing)}")
    if not args.report_only:
        runnable = [p for p in paths if has_functions(p)]
        if runnable:
            rc = run_mutmut(runnable, args.jobs)
            if rc != 0:
                print(f"mutmut exited with {rc}", file=sys.stderr)
                return rc
    return report(paths)


if __name__ == "__main__":
    sys.exit(main())
