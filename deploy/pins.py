"""The local lock against MWAA's constraints: tests exercise the versions MWAA runs.

MWAA installs Airflow 3.3.1 and everything ``requirements.txt`` adds under Airflow's
constraints file (``constraints-3.3.1/constraints-3.12.txt``; a verbatim copy is
``requirements/mwaa/constraints-3.3.1.txt``). ``requirements/local.txt`` is compiled under the
same file (``make lock``), so every package both pin has MWAA's version locally, except the
few in ``MWAA_EXCEPTIONS``: the local virtualenv also holds dbt and Soda (sqlfluff's dbt
templater, the manifest parse, and the tools venv is installed under ``local.txt``), and
they reject MWAA's version of these. On MWAA dbt and Soda live in their own venv
(``deploy/mwaa/startup.sh``), so Airflow's environment there keeps MWAA's version.

    python -m deploy.pins constraints [OUT]   MWAA's constraints minus the exceptions
                                              (what ``make lock`` compiles under)
    python -m deploy.pins check               every package whose local pin differs from
                                              MWAA's (exit status 1 if any)

``tests/deploy/test_pins_match_mwaa.py`` runs the check.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from deploy.keys import MWAA_CONSTRAINTS, PROJECT_ROOT

LOCAL_LOCK = PROJECT_ROOT / "requirements" / "local.txt"

# Packages MWAA pins that the local lock holds at another version, and why. Each conflicts
# with dbt or Soda, which the local venv holds and MWAA's Airflow environment does not
# (tests/deploy/test_deploy_resolution.py shows they cannot join it). Nothing in the project
# imports these directly; Airflow and its providers use requests (and more-itertools).
MWAA_EXCEPTIONS: dict[str, str] = {
    "pathspec": "dbt-core 1.11 requires pathspec<0.13; MWAA pins 1.1.1",
    "more-itertools": (
        "dbt-semantic-interfaces 0.9 (required by dbt-core 1.11) requires more-itertools<11; "
        "MWAA pins 11.1.0"
    ),
    "requests": "soda-core 4.28 requires requests<2.34; MWAA pins 2.34.2",
    "ruamel-yaml": "soda-core 4.28 requires ruamel.yaml<0.19; MWAA pins 0.19.1",
}

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;#\\]+)")


def normalize(name: str) -> str:
    """PEP 503: `ruamel.yaml`, `Ruamel_Yaml` and `ruamel-yaml` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pins(text: str) -> dict[str, str]:
    """`name==version` lines of a constraints file or a `uv pip compile` lock, by PEP 503 name."""
    pins = {}
    for line in text.splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[normalize(match[1])] = match[2]
    return pins


def drift(
    constraints: Mapping[str, str],
    lock: Mapping[str, str],
    exceptions: Mapping[str, str] = MWAA_EXCEPTIONS,
) -> list[str]:
    """`name: local X, MWAA Y` for every package both pin at different versions, sorted."""
    excepted = {normalize(name) for name in exceptions}
    return [
        f"{name}: local {lock[name]}, MWAA {constraints[name]}"
        for name in sorted(constraints.keys() & lock.keys())
        if name not in excepted and lock[name] != constraints[name]
    ]


def stale_exceptions(
    constraints: Mapping[str, str],
    lock: Mapping[str, str],
    exceptions: Mapping[str, str] = MWAA_EXCEPTIONS,
) -> list[str]:
    """Exceptions that no longer differ (or are no longer pinned by both): drop them."""
    stale = []
    for name in sorted(normalize(n) for n in exceptions):
        if name not in constraints or name not in lock:
            stale.append(f"{name}: not pinned by both")
        elif constraints[name] == lock[name]:
            stale.append(f"{name}: both pin {lock[name]}")
    return stale


def lock_constraints(text: str, exceptions: Mapping[str, str] = MWAA_EXCEPTIONS) -> str:
    """MWAA's constraints file without the lines that pin an exception."""
    excepted = {normalize(name) for name in exceptions}
    kept = []
    for line in text.splitlines(keepends=True):
        match = _PIN.match(line.strip())
        if match and normalize(match[1]) in excepted:
            continue
        kept.append(line)
    return "".join(kept)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.pins", description=__doc__)
    parser.add_argument("--constraints", type=Path, default=MWAA_CONSTRAINTS)
    parser.add_argument("--lock", type=Path, default=LOCAL_LOCK)
    sub = parser.add_subparsers(dest="command", required=True)
    write = sub.add_parser("constraints", help="MWAA's constraints minus the exceptions")
    write.add_argument("out", nargs="?", type=Path, default=None, help="default: stdout")
    sub.add_parser("check", help="list packages whose local pin differs from MWAA's")
    args = parser.parse_args(argv)
    constraints_text = args.constraints.read_text()
    if args.command == "constraints":
        text = lock_constraints(constraints_text, MWAA_EXCEPTIONS)
        if args.out is None:
            sys.stdout.write(text)
        else:
            args.out.write_text(text)
        return 0
    constraints = parse_pins(constraints_text)
    lock = parse_pins(args.lock.read_text())
    problems = drift(constraints, lock, MWAA_EXCEPTIONS)
    stale = stale_exceptions(constraints, lock, MWAA_EXCEPTIONS)
    for line in problems:
        print(f"drift: {line}")
    for line in stale:
        print(f"stale exception: {line}")
    if not problems and not stale:
        shared = len(constraints.keys() & lock.keys())
        print(f"{shared} packages pinned by both: all at MWAA's version, except")
        for name, reason in MWAA_EXCEPTIONS.items():
            print(f"  {name} local {lock.get(name)}, MWAA {constraints.get(name)}: {reason}")
    return 1 if problems or stale else 0


if __name__ == "__main__":
    sys.exit(main())
