"""The README and the docs/ pages link to each other by relative paths and heading anchors.

The documentation is split over pages that cite each other (``security.md``,
``scaling.md#workers``) and code that cites them (docstrings naming ``docs/scaling.md``):
a renamed page or heading would leave a dead link nobody clicks until a newcomer does. These
tests read the Markdown as GitHub renders it (links outside code, GitHub's heading slugs).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
_INLINE_CODE = re.compile(r"`[^`]*`")
_DOC_PATH = re.compile(r"docs/[A-Za-z0-9_-]+\.md")
_REPO_PATH = re.compile(r"(?<![\w/.-])((?:mlserve|tests|benchmarks|deploy|bin)/[\w./-]*[\w/])")
"""A file or folder of this repository the text names, e.g. ``mlserve/dataplane/core.py``."""


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def prose(path: Path) -> list[str]:
    """The lines GitHub renders as text: fenced code blocks dropped, as are inline code spans
    (a link inside either is shown literally, not followed)."""
    lines, fenced = [], False
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = _INLINE_CODE.sub(lambda m: m.group(0).strip("`"), heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor in ``path``; repeated headings get GitHub's -1, -2 suffixes."""
    seen: dict[str, int] = {}
    found = set()
    for line in prose(path):
        match = re.match(r"#{1,6}\s+(.*)", line)
        if not match:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[str]:
    targets = []
    for line in prose(path):
        # Drop code spans that hold no link syntax, so `[x](y)` inside code is not followed
        # while [the `/api/v1` API](api-v1.md) still is.
        text = _INLINE_CODE.sub(lambda m: "code" if "](" in m.group(0) else m.group(0), line)
        targets.extend(_LINK.findall(text))
    return targets


def broken_links(path: Path) -> list[str]:
    """Relative links of ``path`` whose file, or whose heading anchor, does not exist."""
    broken = []
    for target in links(path):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target} (no heading #{anchor} in {linked.name})")
    return broken


def test_every_relative_link_and_anchor_resolves() -> None:
    broken = {p.relative_to(ROOT).as_posix(): broken_links(p) for p in pages()}
    assert {page: dead for page, dead in broken.items() if dead} == {}


def test_the_readme_links_every_docs_page() -> None:
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in links(ROOT / "README.md")}
    unlisted = [p.name for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert unlisted == [], "add them to the README's Documentation table"


def test_docs_pages_named_in_code_exist() -> None:
    """Docstrings and help texts send readers to docs pages (``docs/scaling.md``)."""
    missing = []
    for folder in ("mlserve", "tests", "benchmarks"):
        for source in sorted((ROOT / folder).rglob("*.py")):
            for name in set(_DOC_PATH.findall(source.read_text())):
                if not (ROOT / name).exists():
                    missing.append(f"{source.relative_to(ROOT)}: {name}")
    assert missing == []


def test_files_the_docs_cite_exist() -> None:
    """The pages send readers to modules, tests and benchmarks by path; a rename must
    update them (of a template such as ``mlserve/kinds/<kind>.py`` the folder is checked)."""
    cited, missing = 0, []
    for page in pages():
        for number, line in enumerate(page.read_text().splitlines(), 1):
            for path in _REPO_PATH.findall(line):
                cited += 1
                if not (ROOT / path).exists():
                    missing.append(f"{page.relative_to(ROOT)}:{number}: {path}")
    assert missing == []
    assert cited > 50  # the pattern still finds the citations


def test_the_link_checker_sees_dead_links_and_anchors(tmp_path: Path) -> None:
    """The checks above would pass vacuously if links or anchors were never found."""
    (tmp_path / "a.md").write_text(
        "# Kinds of model\n\n## The `/api/v1` API (`mlserve-sdk`)\n\n"
        "[ok](#kinds-of-model) [ok](b.md#no-stalls-by-default) [ok](#the-apiv1-api-mlserve-sdk)\n"
        "[dead](c.md) [dead](b.md#workers) `[in code](d.md)`\n\n```\n[in a block](e.md)\n```\n"
    )
    (tmp_path / "b.md").write_text("# Performance\n\n## No stalls by default\n")
    assert [b.split(" ")[0] for b in broken_links(tmp_path / "a.md")] == ["c.md", "b.md#workers"]
