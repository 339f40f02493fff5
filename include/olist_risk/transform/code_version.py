"""Which code produced the data: a content hash of everything that shapes it.

The dbt project's sources (models, macros, seeds, tests, project and profile files) compute
every value, and the `transform` package decides what dbt builds and where (layers, which
models are per run, the run values dbt reads). Nothing else shapes the data: ingestion stores
the delivered text as is (the batch id is its checksum), and the quality gate and publishing
only decide whether bytes dbt wrote become visible. Keeping those out means that changing a
log line or a report does not make the published store "another code version" that only a
full refresh can replace. Only file contents and their paths relative to their root go in,
so the same code gives the same version on every set-up (a laptop, the Astro image, MWAA),
and nothing generated (dbt's `target/`, `__pycache__`) can change it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

TRANSFORM_DIR = Path(__file__).resolve().parent
DBT_SOURCES = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "tests")


def _files(root: Path, entries: tuple[str, ...], suffixes: tuple[str, ...]) -> Iterator[Path]:
    for entry in entries:
        path = root / entry
        candidates = [path] if path.is_file() else sorted(path.rglob("*")) if path.is_dir() else []
        for candidate in candidates:
            if candidate.is_file() and candidate.suffix in suffixes:
                yield candidate


def content_digest(files: Iterable[tuple[str, Path]]) -> str:
    """12 hex of (name, file) pairs, in the order given: each name and its file's content."""
    digest = hashlib.sha256()
    for name, path in files:
        digest.update(f"{name}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:12]


def code_version(dbt_project_dir: Path, transform_dir: Path = TRANSFORM_DIR) -> str:
    """`code-<12 hex>`: equal exactly when the dbt sources and the transform package are."""
    sources = [
        ("dbt", dbt_project_dir, _files(dbt_project_dir, DBT_SOURCES, (".sql", ".yml", ".csv"))),
        ("transform", transform_dir, _files(transform_dir, (".",), (".py",))),
    ]
    return "code-" + content_digest(
        (f"{label}/{path.relative_to(root).as_posix()}", path)
        for label, root, files in sources
        for path in files
    )
