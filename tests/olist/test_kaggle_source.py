from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from dev.generator.generate import GenerationResult
from include.olist_risk.olist import kaggle
from include.olist_risk.olist.kaggle import (
    EXPECTED_FILES,
    KaggleCredentialsMissing,
    SourceError,
    fetch_kaggle,
    stage_source,
)


@pytest.fixture
def source_folder(generated: GenerationResult, tmp_path: Path) -> Path:
    """The nine generated CSVs plus an unrelated file, like a user's download folder."""
    folder = tmp_path / "download"
    folder.mkdir()
    for name in EXPECTED_FILES:
        shutil.copyfile(generated.out_dir / name, folder / name)
    (folder / "README.txt").write_text("not part of the dataset")
    return folder


def _zip(folder: Path, archive: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(archive, "w") as out:
        for child in sorted(folder.iterdir()):
            out.write(child, prefix + child.name)
    return archive


def _assert_staged(dest: Path, source_folder: Path) -> None:
    assert sorted(p.name for p in dest.iterdir()) == sorted(EXPECTED_FILES)
    for name in EXPECTED_FILES:
        assert (dest / name).read_bytes() == (source_folder / name).read_bytes()


def test_stage_source_copies_the_nine_files_from_a_folder(
    source_folder: Path, tmp_path: Path
) -> None:
    dest = stage_source(source_folder, tmp_path / "staged")
    _assert_staged(dest, source_folder)


@pytest.mark.parametrize("prefix", ["", "brazilian-ecommerce/"], ids=["flat", "nested"])
def test_stage_source_extracts_a_zip_flat_or_with_one_nested_directory(
    source_folder: Path, tmp_path: Path, prefix: str
) -> None:
    archive = _zip(source_folder, tmp_path / "olist.zip", prefix)
    dest = stage_source(archive, tmp_path / "staged")
    _assert_staged(dest, source_folder)


def test_stage_source_accepts_a_folder_holding_one_nested_directory(
    source_folder: Path, tmp_path: Path
) -> None:
    outer = tmp_path / "outer"
    outer.mkdir()
    shutil.move(source_folder, outer / "archive")
    dest = stage_source(outer, tmp_path / "staged")
    _assert_staged(dest, outer / "archive")


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_missing_files_error_names_each_missing_file(
    source_folder: Path, tmp_path: Path, as_zip: bool
) -> None:
    missing = ["olist_orders_dataset.csv", "olist_geolocation_dataset.csv"]
    for name in missing:
        (source_folder / name).unlink()
    source = _zip(source_folder, tmp_path / "olist.zip") if as_zip else source_folder
    dest = tmp_path / "staged"
    with pytest.raises(SourceError) as error:
        stage_source(source, dest)
    for name in missing:
        assert name in str(error.value)
    assert "olist_customers_dataset.csv" not in str(error.value)
    assert not any(dest.glob("*.csv")), "nothing is staged from an incomplete source"


def test_stage_source_rejects_a_path_that_is_neither_folder_nor_zip(tmp_path: Path) -> None:
    bogus = tmp_path / "olist.csv"
    bogus.write_text("a,b\n")
    with pytest.raises(SourceError, match=r"neither a folder nor a \.zip"):
        stage_source(bogus, tmp_path / "staged")


@pytest.fixture
def no_kaggle_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    return home


def test_fetch_without_credentials_explains_both_ways_out(
    no_kaggle_credentials: Path, tmp_path: Path
) -> None:
    with pytest.raises(KaggleCredentialsMissing) as error:
        fetch_kaggle(tmp_path / "dest")
    message = str(error.value)
    assert "kaggle.json" in message and "KAGGLE_USERNAME" in message
    assert "--source" in message
    assert str(no_kaggle_credentials / ".kaggle") in message


@pytest.mark.parametrize(
    "env",
    [{"KAGGLE_USERNAME": "u", "KAGGLE_KEY": "k"}, {"KAGGLE_API_TOKEN": "t"}],
    ids=["username-key", "api-token"],
)
def test_credentials_are_found_in_the_environment(
    no_kaggle_credentials: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    assert not kaggle.has_kaggle_credentials()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert kaggle.has_kaggle_credentials()


def test_credentials_are_found_in_kaggle_json(no_kaggle_credentials: Path) -> None:
    config = no_kaggle_credentials / ".kaggle"
    config.mkdir()
    (config / "kaggle.json").write_text('{"username": "u", "key": "k"}')
    assert kaggle.has_kaggle_credentials()


def test_cli_stages_a_source_folder(
    source_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kaggle.main(["--dest", str(tmp_path / "staged"), "--source", str(source_folder)])
    assert "staged 9 Olist files" in capsys.readouterr().out
    _assert_staged(tmp_path / "staged", source_folder)


def test_cli_without_credentials_exits_with_the_message(
    no_kaggle_credentials: Path, tmp_path: Path
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        kaggle.main(["--dest", str(tmp_path / "staged")])
    assert "--source" in str(exit_info.value.code)
