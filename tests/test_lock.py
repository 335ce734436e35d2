"""requirements.lock is in step with requirements.txt: checked offline, without resolving anything again."""

from __future__ import annotations

import re

from series import REPO_ROOT

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)(?:\s*;\s*(.+))?$")


def _pins(path) -> dict[str, set[str]]:
    pins: dict[str, set[str]] = {}
    for line in (REPO_ROOT / path).read_text().splitlines():
        found = PIN.match(line.strip())
        if found:
            pins.setdefault(re.sub(r"[-_.]+", "-", found.group(1)).lower(), set()).add(found.group(2))
    return pins


def test_every_pin_of_the_list_is_in_the_lock_with_the_same_version() -> None:
    wanted, locked = _pins("requirements.txt"), _pins("requirements.lock")
    assert wanted, "requirements.txt pins nothing"
    for name, versions in wanted.items():
        assert locked.get(name) == versions, f"{name}: {sorted(versions)} in requirements.txt, {sorted(locked.get(name, []))} in the lock"


def test_the_lock_pins_everything_for_every_system() -> None:
    text = (REPO_ROOT / "requirements.lock").read_text()
    assert "uv pip compile --universal --python-version 3.11 requirements.txt -o requirements.lock" in text
    lines = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert len(lines) > 100 and all(PIN.match(line) for line in lines), "every line is name==version, maybe with a marker"
    assert any("sys_platform == 'win32'" in line for line in lines), "one lock for Linux, macOS and Windows"
