"""The README's client and CLI examples run as written, against a live API and its payment
worker (the README's localhost:8000 becomes the test API's address)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"


def examples(kind: str) -> list[str]:
    pattern = rf"<!-- readme-example: {kind} -->\n```\w+\n(.*?)```"
    return re.findall(pattern, README.read_text(), re.S)


def test_readme_python_example_runs(api_url):
    [code] = examples("python")
    result = subprocess.run(
        [sys.executable, "-c", code.replace("http://localhost:8000", api_url)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert " payment.created pay_" in result.stdout


def test_readme_cli_example_runs(api_url):
    [script] = examples("shell")
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        ["bash", "-ec", f'export PATH="{bin_dir}:$PATH"\n'
         + script.replace("http://localhost:8000", api_url)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("payment.success") >= 2  # triggered, then listed
    assert '"data": [' in result.stdout
