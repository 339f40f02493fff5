"""Bring the real Kaggle dataset in: download it with the Kaggle API, or stage a folder or zip
the user already has.

The generator is the default source; this module is for running the pipeline on the real
Olist data (`olistbr/brazilian-ecommerce`, CC BY-NC-SA 4.0), which the project never ships.

    python -m include.olist_risk.olist.kaggle --dest DIR [--source PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from include.olist_risk.olist import tables as olist

EXPECTED_FILES: tuple[str, ...] = tuple(table.file_name for table in olist.TABLES.values())
CREDENTIAL_VARIABLES = ("KAGGLE_USERNAME", "KAGGLE_KEY")
TOKEN_VARIABLE = "KAGGLE_API_TOKEN"


class SourceError(Exception):
    """The dataset cannot be obtained from the given source; the message says what to do."""


class KaggleCredentialsMissing(SourceError):
    """No Kaggle API credentials were found, so nothing can be downloaded."""


def kaggle_config_dir() -> Path:
    """Where the kaggle package looks for kaggle.json or access_token (KAGGLE_CONFIG_DIR, else
    ~/.kaggle)."""
    configured = os.environ.get("KAGGLE_CONFIG_DIR")
    return Path(configured) if configured else Path.home() / ".kaggle"


def has_kaggle_credentials() -> bool:
    if os.environ.get(TOKEN_VARIABLE):
        return True
    if all(os.environ.get(name) for name in CREDENTIAL_VARIABLES):
        return True
    config = kaggle_config_dir()
    return (config / "kaggle.json").is_file() or (config / "access_token").is_file()


def _missing_credentials_message() -> str:
    return (
        f"No Kaggle API credentials found, so {olist.KAGGLE_DATASET} cannot be downloaded.\n"
        "Either:\n"
        "  1. create an API token at https://www.kaggle.com/settings (API -> Create New Token)"
        f" and save it as {kaggle_config_dir() / 'kaggle.json'} (chmod 600), or export"
        f" {' and '.join(CREDENTIAL_VARIABLES)} (or {TOKEN_VARIABLE}); or\n"
        "  2. download the dataset yourself and pass the folder or the .zip with --source PATH."
    )


def fetch_kaggle(dest: Path) -> Path:
    """Download and unzip the dataset into `dest` with the Kaggle API; return `dest`."""
    if not has_kaggle_credentials():
        raise KaggleCredentialsMissing(_missing_credentials_message())
    # Imported here: the kaggle package authenticates at import time and fails without a token.
    from kaggle.api.kaggle_api_extended import KaggleApi

    api = KaggleApi()
    api.authenticate()
    with tempfile.TemporaryDirectory(prefix="olist-kaggle-") as download_dir:
        api.dataset_download_files(olist.KAGGLE_DATASET, path=download_dir, unzip=True, quiet=True)
        return stage_source(Path(download_dir), dest)


def _data_root(files: list[str]) -> str:
    """The folder inside an archive that holds the CSVs: the root, or one nested directory."""
    if any("/" not in name for name in files if name.endswith(".csv")):
        return ""
    tops = {name.split("/", 1)[0] for name in files if name.endswith(".csv")}
    return f"{tops.pop()}/" if len(tops) == 1 else ""


def _check_present(found: set[str], source: Path) -> None:
    missing = [name for name in EXPECTED_FILES if name not in found]
    if missing:
        raise SourceError(
            f"{source} is missing {len(missing)} of the {len(EXPECTED_FILES)} Olist files: "
            + ", ".join(missing)
        )


def _stage_zip(source: Path, dest: Path) -> None:
    with zipfile.ZipFile(source) as archive:
        names = [info.filename for info in archive.infolist() if not info.is_dir()]
        root = _data_root(names)
        _check_present({name[len(root) :] for name in names if name.startswith(root)}, source)
        for file_name in EXPECTED_FILES:
            with archive.open(root + file_name) as src, (dest / file_name).open("wb") as out:
                shutil.copyfileobj(src, out)


def _stage_folder(source: Path, dest: Path) -> None:
    folder = source
    if not any((source / name).is_file() for name in EXPECTED_FILES):
        subdirs = [child for child in source.iterdir() if child.is_dir()]
        folder = subdirs[0] if len(subdirs) == 1 else source
    _check_present({child.name for child in folder.iterdir() if child.is_file()}, source)
    for file_name in EXPECTED_FILES:
        shutil.copyfile(folder / file_name, dest / file_name)


def stage_source(source: Path, dest: Path) -> Path:
    """Copy the nine Olist CSVs from a folder or a .zip into `dest`; extra files are ignored.

    Checks every expected file first, so a bad source fails before anything is written.
    """
    if not source.exists():
        raise SourceError(f"{source} does not exist; pass a folder or a .zip of the Olist CSVs")
    dest.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        _stage_folder(source, dest)
    elif zipfile.is_zipfile(source):
        _stage_zip(source, dest)
    else:
        raise SourceError(f"{source} is neither a folder nor a .zip archive")
    return dest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Stage the real Olist dataset.")
    parser.add_argument("--dest", type=Path, required=True, help="directory for the nine CSVs")
    parser.add_argument("--source", type=Path, help="a folder or .zip you already downloaded")
    args = parser.parse_args(argv)
    try:
        staged = stage_source(args.source, args.dest) if args.source else fetch_kaggle(args.dest)
    except SourceError as error:
        raise SystemExit(str(error)) from error
    print(f"staged {len(EXPECTED_FILES)} Olist files in {staged}")


if __name__ == "__main__":
    main()
