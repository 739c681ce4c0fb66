"""The code cites the project's own documentation, and every citation leads somewhere.

A comment or docstring points at a section as a path from the repository's root and a GitHub
anchor (`docs/webhooks.md#retry-schedule`, `README.md#connection-budget`); a Markdown page links
relative to itself (`[recovery](webhooks.md#recovery)`). Both must name a file that exists and a
heading it has. Nothing cites a document outside the repository (the external contract's
sections) or a tracker's issue number: a reader of the code can follow neither.
"""

import ast
import io
import os
import re
import tokenize
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {
    ".git", ".venv", ".tools", ".data", "node_modules", "__pycache__", ".pytest_cache",
    ".ruff_cache", ".mypy_cache", "bench-results", "test-artifacts",
}  # fmt: skip
SKIPPED_SUFFIXES = {".lock", ".png", ".jpg", ".ico", ".svg", ".woff", ".woff2", ".gz", ".whl"}

# A root-relative citation: `docs/api.md#errors`, `services/checkout/README.md#the-page`,
# `README.md#connection-budget`; the anchor is optional.
CITATION = re.compile(
    r"(?<![\w./-])((?:docs|services|shared|clients|deploy|bench|chaos|tests)/[\w./-]+?\.md"
    r"|README\.md)(?:#([\w-]+))?"
)
# A Markdown link's target, relative to the page: `(webhooks.md#recovery)`, `(#errors)`.
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")

# Citations of the outside contract: its name followed by a section sign or by its file's
# extension, or the words contract and section together. A section sign before a number is
# allowed only after an RFC's number (a standard anyone can read).
OUTSIDE_CONTRACT = re.compile(r"CONTRACT\s*(?:§|\.md)|\bcontract\s+(?:section|§)", re.IGNORECASE)
SECTION_SIGN = re.compile(r"§\s*\d")
RFC_BEFORE = re.compile(r"RFC\s*\d+\s*$")
# An issue or pull request by number: the word, maybe a number sign, then digits; or GitHub's
# short form.
ISSUE_WORD = re.compile(r"\b(?:issues?|pull request|PR)\s*#\d+|\bissues?\s+\d+|\bGH-\d+", re.I)
# A bare tracker reference (a number sign and digits), checked in prose only (Python comments
# and docstrings, Markdown), since code may print such numbers of its own (the test receiver
# numbers its lines so).
BARE_NUMBER = re.compile(r"(?<![\w&#/])#\d+\b")


def repository_files(root: Path = ROOT) -> Iterator[Path]:
    """Every text file of the working tree outside caches, virtualenvs and generated output."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in sorted(files):
            path = Path(folder, name)
            if path.suffix in SKIPPED_SUFFIXES:
                continue
            try:
                path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
            yield path


@cache
def anchors(path: Path) -> frozenset[str]:
    """GitHub's anchors for the headings of a Markdown file: the heading's text lowercased,
    without Markdown markup and punctuation other than `-` and `_`, spaces made hyphens; a
    repeated one gets `-1`, `-2` … Headings inside fenced code are not headings."""
    seen: dict[str, int] = {}
    found = set()
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match is None:
            continue
        slug = github_slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return frozenset(found)


def github_slug(heading: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def citations(path: Path) -> Iterator[tuple[int, Path, str | None]]:
    """(line, cited file or folder, anchor or None) for each citation in the file."""
    text = path.read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        for match in CITATION.finditer(line):
            yield number, ROOT / match.group(1), match.group(2)
        if path.suffix != ".md":
            continue
        for match in MARKDOWN_LINK.finditer(line):
            target = match.group(1)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, mailto: …
                continue
            file_part, _, anchor = target.partition("#")
            cited = (path.parent / file_part).resolve() if file_part else path
            yield number, cited, anchor or None


def prose(path: Path, text: str) -> Iterator[tuple[int, str]]:
    """(line, text) of the prose a tracker reference could hide in: a Python file's comments
    and docstrings, a Markdown file's every line."""
    if path.suffix == ".md":
        yield from enumerate(text.splitlines(), start=1)
        return
    if path.suffix != ".py":
        return
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            docstring = ast.get_docstring(node, clean=False)
            if docstring is not None:
                yield node.body[0].lineno, docstring


def outside_references(path: Path, root: Path = ROOT) -> list[str]:
    """Each citation of the outside contract or of an issue number in the file, as
    `path:line: text` with the path relative to `root`."""
    text = path.read_text(encoding="utf-8")
    relative = path.relative_to(root)
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        hits = [m.group(0) for m in OUTSIDE_CONTRACT.finditer(line)]
        hits += [m.group(0) for m in ISSUE_WORD.finditer(line)]
        hits += [
            m.group(0)
            for m in SECTION_SIGN.finditer(line)
            if not RFC_BEFORE.search(line[: m.start()])
        ]
        found += [f"{relative}:{number}: {hit}" for hit in hits]
    for number, passage in prose(path, text):
        found += [f"{relative}:{number}: {m.group(0)}" for m in BARE_NUMBER.finditer(passage)]
    return found


def test_every_cited_section_exists() -> None:
    broken = []
    for path in repository_files():
        for number, cited, anchor in citations(path):
            where = f"{path.relative_to(ROOT)}:{number}"
            if not cited.exists():
                broken.append(f"{where}: no file or folder {cited}")
            elif anchor and cited.suffix == ".md" and anchor not in anchors(cited):
                broken.append(f"{where}: {cited.relative_to(ROOT)} has no heading #{anchor}")
    assert broken == []


def test_no_file_cites_the_outside_contract_or_an_issue_number() -> None:
    found = [hit for path in repository_files() for hit in outside_references(path)]
    assert found == []


def test_the_code_cites_every_page_of_the_docs() -> None:
    """Each page is reachable from the code it describes (a page nobody cites goes stale)."""
    cited = {
        cited.resolve()
        for path in repository_files()
        if path.suffix != ".md"
        for _, cited, _ in citations(path)
    }
    pages = sorted(ROOT.glob("docs/**/*.md"))
    assert pages
    uncited = [str(page.relative_to(ROOT)) for page in pages if page.resolve() not in cited]
    assert uncited == []


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Retry schedule", "retry-schedule"),
        ("Health and job status", "health-and-job-status"),
        ("`make run`", "make-run"),
        ("Requests first, background second", "requests-first-background-second"),
        ("Python client and `gateway` CLI", "python-client-and-gateway-cli"),
        ("Due work lives in PostgreSQL; nothing is lost with Redis",
         "due-work-lives-in-postgresql-nothing-is-lost-with-redis"),
    ],
)  # fmt: skip
def test_anchors_are_githubs(heading: str, anchor: str) -> None:
    assert github_slug(heading) == anchor


def test_the_checks_find_what_they_forbid(tmp_path: Path) -> None:
    """The patterns catch each form the rule forbids, and pass what it allows."""
    forbidden = [
        "# The retry schedule (CONTRACT \u00a77).",
        "# see CONTRACT\x2emd",
        "# contract\x20section 5 says so",
        "# measured in issue\x2013",
        "# Issue\x2010: the isolation case",
        "# fixed by #22",
    ]
    allowed = [
        "# The retry schedule (docs/webhooks.md#retry-schedule).",
        "# RFC 3986 §2: unreserved characters",
        "# attempt 1 and 2",
    ]
    source = tmp_path / "module.py"
    for line in forbidden:
        source.write_text(line + "\n")
        assert outside_references(source, tmp_path), line
    for line in allowed:
        source.write_text(line + "\n")
        assert not outside_references(source, tmp_path), line
