"""The README's first Python example runs as written (from the repository's root)."""

import os
import re

from conftest import REPO


def test_readme_example(capsys):
    readme = (REPO / "README.md").read_text()
    example = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        exec(compile(example, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    printed = capsys.readouterr().out
    assert "(3, 10, 14) (4, 3, 7)" in printed, printed
