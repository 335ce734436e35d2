"""The Colab step's second half: the notebooks' first cell (series.COLAB_STEP) runs it, in the notebook's kernel,
once it has fetched the series (Colab, or a notebook on its own; inside a clone of the series nothing runs).

It moves the fresh fetch (the folder `mnist-tf-tutorial.part`, which `git clone` filled) to its place,
`mnist-tf-tutorial`, installs what this environment lacks of what the notebooks need (install_missing.py: what is
present stays as it is, Colab's own TensorFlow included), and makes the clone's notebooks/ folder the kernel's working
folder and import path, so that the notebook goes on as in a clone. A failure is one line (`Setup stopped: ...`), no
traceback: IPython shows `_render_traceback_` instead. tests/test_colab.py runs it.
"""

import os
import subprocess
import sys
from pathlib import Path

FETCHED = Path(__file__).resolve().parent.parent  # the clone, or the fetch that is to become it
CLONE = FETCHED.with_name("mnist-tf-tutorial")


class SetupStopped(Exception):
    def _render_traceback_(self) -> list[str]:
        return [f"Setup stopped: {self}"]


if FETCHED != CLONE:
    try:
        FETCHED.rename(CLONE)
    except OSError as error:
        raise SetupStopped(f"cannot move the fetched series to {CLONE}: {error}") from None
done = subprocess.run([sys.executable, CLONE / "scripts" / "install_missing.py"], capture_output=True, text=True)
print(done.stdout, end="")
if done.returncode:
    raise SetupStopped((done.stderr.strip().splitlines() or ["could not install what the series needs"])[-1])
os.chdir(CLONE / "notebooks")
sys.path.insert(0, str(CLONE / "notebooks"))
