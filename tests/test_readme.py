"""The README renders: every table keeps its columns, every link and anchor leads somewhere."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "configs" / "slurm" / "README.md"]
markdown_it = pytest.importorskip("markdown_it")


def _cells(line: str) -> int:
    """GFM's cell count of a table row: pipes split cells unless escaped (also inside code)."""
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    return len(re.split(r"(?<!\\)\|", body))


def _slug(title: str) -> str:
    """GitHub's heading anchor."""
    text = re.sub(r"[`*_\[\]()]", "", title.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_table_row_has_the_headers_columns(path):
    md = markdown_it.MarkdownIt("commonmark").enable("table")
    lines = path.read_text().splitlines()
    tables = [t.map for t in md.parse(path.read_text()) if t.type == "table_open"]
    assert tables or path.name != "README.md"
    broken = []
    for start, end in tables:
        header = _cells(lines[start])
        for n in range(start, end):
            if n != start + 1 and _cells(lines[n]) != header:
                broken.append(f"{path.name}:{n + 1}: {_cells(lines[n])} cells, header has {header}: {lines[n][:80]}")
    assert broken == []


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_lead_to_files_and_headings_that_exist(path):
    text = path.read_text()
    anchors = {_slug(m) for m in re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)}
    missing = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file, _, anchor = target.partition("#")
        where = (path.parent / file) if file else path
        if not where.exists():
            missing.append(target)
        elif anchor and where.suffix == ".md":
            heads = (
                anchors
                if where == path
                else {_slug(m) for m in re.findall(r"^#{1,6} (.+)$", where.read_text(), re.MULTILINE)}
            )
            if anchor not in heads:
                missing.append(target)
    assert missing == []


def test_the_readme_speaks_of_the_kit_not_of_how_it_was_built():
    text = (ROOT / "README.md").read_text() + "".join(p.read_text() for p in (ROOT / "docs").glob("*.md"))
    assert not re.search(r"\bsession \d|\blent\b|this project is sometimes", text, re.IGNORECASE)
