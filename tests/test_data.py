"""The bundled MNIST files are the canonical ones."""

from __future__ import annotations

import hashlib

import pytest

import helpers

SUMS = helpers.DATA_DIR / "SHA256SUMS"


def _listed() -> list[tuple[str, str]]:
    return [tuple(line.split()) for line in SUMS.read_text().splitlines() if line.strip()]  # type: ignore[misc]


def test_sha256sums_lists_the_four_files() -> None:
    assert sorted(name for _, name in _listed()) == sorted(helpers.MNIST_FILES.values())


@pytest.mark.parametrize(("digest", "name"), _listed())
def test_checksum(digest: str, name: str) -> None:
    sha = hashlib.sha256()
    with open(helpers.DATA_DIR / name, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    assert sha.hexdigest() == digest, f"data/{name} differs from the canonical MNIST file"


def test_data_readme_attribution() -> None:
    text = (helpers.DATA_DIR / "README.md").read_text()
    assert "CC BY-SA 3.0" in text and "LeCun" in text and "Cortes" in text
