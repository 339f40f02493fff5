"""The README's commands run as printed.

Every fenced ```bash / ```sh / ```console / ```python block of README.md is a case, named by
its heading, unless the line right before it is a visible marker saying why it is not run:

    <!-- readme-test: skip (long job: the whole pipeline, minutes) -->

Long jobs (`make run`, `make test`), servers that run until Ctrl-C, and anything needing the
network or Docker are marked so; they are listed by the marker test, never counted as passing.
The rest run in a copy of the project (its files, its virtualenvs linked) holding a small
published feature store under `data/`, built by the project's own publish and catalog code:
what a reader finds after `make run`, without the minutes it takes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from include.olist_risk.lake.catalog import refresh_catalog
from include.olist_risk.lake.storage import open_lake
from tests.feature_store.publish_helpers import build, publish
from tests.isolation import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
LANGUAGES = {"bash", "sh", "console", "python"}
MARKER = re.compile(r"<!--\s*readme-test:\s*skip\b(.*?)-->")
REASON = re.compile(r"^\s*\((.*\S.*)\)\s*$")
FENCE = re.compile(r"^(\s*)```\s*([\w+-]*)\s*$")
# The published snapshots of the fixture lake: snapshot date -> customers.
SNAPSHOTS = {"2018-01-01": 3, "2018-02-01": 5}
TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class Block:
    heading: str
    language: str
    code: str
    line: int  # of the opening fence, 1-based
    marker: str | None  # the skip marker right before the block, as written


def readme_blocks(text: str) -> list[Block]:
    """Every fenced block in a runnable language, with its heading and skip marker."""
    blocks: list[Block] = []
    heading, previous, fence = "(top)", "", None
    body: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        found = FENCE.match(line)
        if fence is not None:
            if found and not found.group(2) and len(found.group(1)) <= len(fence[0]):
                indent, language, start, marker = fence
                if language in LANGUAGES:
                    code = "\n".join(row[len(indent) :] for row in body)
                    blocks.append(Block(heading, language, code, start, marker))
                fence, body = None, []
            else:
                body.append(line)
            continue
        if found:
            marker = MARKER.search(previous)
            fence = (found.group(1), found.group(2).lower(), number, marker and marker.group(0))
        elif line.startswith("#"):
            heading = line.lstrip("#").strip()
        if line.strip():
            previous = line
    return blocks


def _case_ids(blocks: list[Block]) -> list[str]:
    """`heading`, or `heading #n` where a heading has several blocks."""
    per_heading: dict[str, int] = {}
    for block in blocks:
        per_heading[block.heading] = per_heading.get(block.heading, 0) + 1
    seen: dict[str, int] = {}
    ids = []
    for block in blocks:
        seen[block.heading] = seen.get(block.heading, 0) + 1
        several = per_heading[block.heading] > 1
        ids.append(f"{block.heading} #{seen[block.heading]}" if several else block.heading)
    return ids


ALL_BLOCKS = readme_blocks(README.read_text())
RUN_BLOCKS = [
    pytest.param(block, id=case_id)
    for block, case_id in zip(ALL_BLOCKS, _case_ids(ALL_BLOCKS), strict=True)
    if block.marker is None
]


def _project_files() -> list[str]:
    """The checkout's files, tracked or new, without what git ignores (data, venvs, homes)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (PROJECT_ROOT / name).is_file()]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project with a published feature store and its catalog under `data/`."""
    root = tmp_path_factory.mktemp("readme") / "project"
    for name in _project_files():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        # copy2 keeps modification times: make's targets stay up to date in the copy.
        shutil.copy2(PROJECT_ROOT / name, root / name)
    for venv in (".venv", ".venv-tools"):
        (root / venv).symlink_to(PROJECT_ROOT / venv)
    lake = open_lake(str(root / "data" / "lake"))
    build(lake, "readme_run", SNAPSHOTS, "batch-readme", tmp_path_factory.mktemp("build"))
    publish(lake, "readme_run", "batch-readme", full_refresh=True)
    refresh_catalog(lake, root / "data" / "warehouse" / "olist.duckdb")
    return root


def _environment() -> dict[str, str]:
    """A shell as a user has it in the project: none of this test session's settings."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AIRFLOW", "OLIST_", "PYTEST_")) and name != "PYTHONPATH"
    }
    return {
        **env,
        "SODA_CORE_TELEMETRY_ENABLED": "false",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }


def _command(block: Block, workspace: Path) -> list[str]:
    if block.language == "python":
        return [str(workspace / ".venv" / "bin" / "python"), "-c", block.code]
    script = block.code
    if block.language == "console":
        # A console session: the `$ ` lines are the commands, the rest their output.
        script = "\n".join(line[2:] for line in script.splitlines() if line.startswith("$ "))
    return ["bash", "-e", "-o", "pipefail", "-c", script]


def _run_block(block: Block, workspace: Path) -> subprocess.CompletedProcess:
    """Run a block as printed; a timeout fails the test with what the block printed so far."""
    try:
        return subprocess.run(
            _command(block, workspace),
            cwd=workspace,
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired as timeout:
        # What a timed-out child printed comes back as bytes, whatever `text` says.
        printed = b"".join(
            out if isinstance(out, bytes) else out.encode()
            for out in (timeout.stdout, timeout.stderr)
            if out
        )
        pytest.fail(
            f"README.md:{block.line} ({block.heading}) ran over {TIMEOUT_SECONDS}s; mark it "
            f"`<!-- readme-test: skip (long job: why) -->` if it is one:\n{block.code}\n"
            f"--- output ---\n{printed.decode(errors='replace')[-4000:]}",
            pytrace=False,
        )


@pytest.mark.parametrize("block", RUN_BLOCKS)
def test_readme_command_block_runs_as_printed(block: Block, workspace: Path) -> None:
    result = _run_block(block, workspace)
    if result.returncode != 0:
        pytest.fail(
            f"README.md:{block.line} ({block.heading}) exited {result.returncode}:\n"
            f"{block.code}\n--- stdout ---\n{result.stdout[-4000:]}\n"
            f"--- stderr ---\n{result.stderr[-4000:]}",
            pytrace=False,
        )


def test_readme_query_shows_every_published_snapshot(workspace: Path) -> None:
    """The blocks that query the feature store print what the lake publishes, not just exit 0."""
    queries = [param.values[0] for param in RUN_BLOCKS if "feature_store" in param.values[0].code]
    assert queries, "the README has no runnable feature-store query"
    for block in queries:
        output = _run_block(block, workspace).stdout
        for snapshot, customers in SNAPSHOTS.items():
            assert re.search(rf"{snapshot}\b.*\b{customers}\b", output), (block.code, output)


def _reason(marker: str) -> str | None:
    found = REASON.match(MARKER.search(marker).group(1))
    return found.group(1) if found else None


def skip_marker_problems(text: str) -> list[str]:
    """Markers without a reason, and markers that are not right before a command block."""
    blocks = readme_blocks(text)
    problems = [
        f"README.md:{block.line}: {block.marker} gives no reason in parentheses"
        for block in blocks
        if block.marker is not None and _reason(block.marker) is None
    ]
    # A marker anywhere else (before prose, or a block in no runnable language) skips nothing.
    placed = sum(block.marker is not None for block in blocks)
    if len(MARKER.findall(text)) != placed:
        problems.append("a readme-test marker is not right before a command block")
    return problems


def test_every_skipped_readme_block_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    """Each skip marker gives its reason; the skipped blocks are listed, not counted as run."""
    assert skip_marker_problems(README.read_text()) == []
    # Listed on the terminal, past pytest's capture, so a reader sees what was not run.
    with capsys.disabled():
        print("\nREADME blocks not run (marked in README.md):")
        for block in ALL_BLOCKS:
            if block.marker is not None:
                print(f"  README.md:{block.line} ({block.heading}): {_reason(block.marker)}")


def test_a_skip_marker_without_reason_or_block_is_reported() -> None:
    text = (
        "# T\n<!-- readme-test: skip -->\n```bash\nmake run\n```\n"
        "<!-- readme-test: skip (long job: x) -->\nprose, no block\n"
    )
    assert skip_marker_problems(text) == [
        "README.md:3: <!-- readme-test: skip --> gives no reason in parentheses",
        "a readme-test marker is not right before a command block",
    ]


SAMPLE = """# Title

<!-- readme-test: skip (long job: minutes) -->
```bash
make run
```

## Query it

```console
$ echo one
one
```

Some prose with a diagram:

```
a ──> b
```

- a list item:

  ```python
  print("indented")
  ```

```yaml
key: value
```
"""


def test_readme_blocks_carry_their_heading_marker_and_code() -> None:
    blocks = readme_blocks(SAMPLE)
    assert [(b.heading, b.language, b.code, b.line) for b in blocks] == [
        ("Title", "bash", "make run", 4),
        ("Query it", "console", "$ echo one\none", 10),
        ("Query it", "python", 'print("indented")', 23),
    ]
    assert blocks[0].marker == "<!-- readme-test: skip (long job: minutes) -->"
    assert blocks[1].marker is None and blocks[2].marker is None
    assert _case_ids(blocks) == ["Title", "Query it #1", "Query it #2"]
    assert _command(blocks[1], Path("/p"))[-1] == "echo one"


def test_a_failing_block_shows_its_command_and_output(tmp_path: Path) -> None:
    block = Block("Broken", "bash", "echo 'about to fail'\nfalse\necho never", 7, None)
    with pytest.raises(pytest.fail.Exception) as failure:
        test_readme_command_block_runs_as_printed(block, tmp_path)
    message = str(failure.value)
    assert "README.md:7 (Broken) exited 1" in message
    assert "echo 'about to fail'" in message
    assert "--- stdout ---\nabout to fail\n" in message
    assert "never\n" not in message.split("--- stdout ---")[1]
