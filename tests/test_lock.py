"""requirements.lock is in step with requirements.txt: checked offline, without resolving anything again."""

from __future__ import annotations

import series
from series import REPO_ROOT


def _pins(path) -> dict[str, set[str]]:
    """Canonical name -> every version a requirements file pins it to, for any system (series.read_pins)."""
    pins: dict[str, set[str]] = {}
    for name, version, _marker in series.read_pins(REPO_ROOT / path):
        pins.setdefault(name, set()).add(version)
    return pins


def test_every_pin_of_the_list_is_in_the_lock_with_the_same_version() -> None:
    wanted, locked = _pins("requirements.txt"), _pins("requirements.lock")
    assert wanted, "requirements.txt pins nothing"
    for name, versions in wanted.items():
        assert locked.get(name) == versions, (
            f"{name}: {sorted(versions)} in requirements.txt, {sorted(locked.get(name, []))} in the lock"
        )


def test_the_lock_pins_everything_for_every_system() -> None:
    text = (REPO_ROOT / "requirements.lock").read_text()
    assert "uv pip compile --universal --python-version 3.11 requirements.txt -o requirements.lock" in text
    locked = series.read_pins(REPO_ROOT / "requirements.lock")  # every line is name==version, maybe with a marker
    assert len(locked) > 100
    windows = [name for name, _, marker in locked if marker is not None and "win32" in str(marker)]
    assert windows, "one lock for Linux, macOS and Windows"
