"""The guide in docs/ must not rot: every code reference and image it names must exist.

Convention (documented in docs/README.md, "How the guide points at code"):
  * `path:identifier` in backticks, path relative to the repository root and starting with
    csrc/, src/, tests/, benches/ or tools/ -- the file must exist and the identifier must
    occur in it as a whole word (a C function as written in its .inc, e.g.
    `csrc/norm.inc:norm_backward_rows_body`, a Python function, class or test name);
  * `path` alone in backticks (same prefixes, or docs/) -- the file or directory must exist;
  * Markdown images ![...](file) and links [...](file) to local files, relative to the .md
    file -- the target must exist (http(s) links and #anchors are not checked).
"""
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
GUIDE = ["README.md", "activations.md", "gemm.md", "normalization.md", "gradient-flow.md"]

_PREFIX = r"(?:csrc|src|tests|benches|tools|docs)/"
CODE_REF = re.compile(r"`(" + _PREFIX + r"[\w./-]+?)(?::(\w+))?`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def references(text):
    """[(path, identifier or None)] of every backticked code reference in a Markdown text."""
    return [(m.group(1), m.group(2)) for m in CODE_REF.finditer(text)]


def local_links(text):
    """Targets of Markdown links/images that point at local files."""
    out = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        out.append(target.split("#", 1)[0])
    return out


def problems(md_path, root=ROOT):
    """Every stale reference of one Markdown file, as readable strings (empty: all good)."""
    text = md_path.read_text(encoding="utf-8")
    found = []
    cache = {}
    for path, ident in references(text):
        f = root / path
        if not f.exists():
            found.append(f"{md_path.name}: `{path}` does not exist")
            continue
        if ident is None:
            continue
        if f.is_dir():
            found.append(f"{md_path.name}: `{path}:{ident}` names a directory")
            continue
        if path not in cache:
            cache[path] = f.read_text(encoding="utf-8", errors="replace")
        if not re.search(r"\b" + re.escape(ident) + r"\b", cache[path]):
            found.append(f"{md_path.name}: `{path}:{ident}`: no `{ident}` in {path}")
    for target in local_links(text):
        if target and not (md_path.parent / target).exists():
            found.append(f"{md_path.name}: link/image target {target} does not exist")
    return found


@pytest.mark.parametrize("name", GUIDE)
def test_guide_page_exists_and_points_at_code(name):
    md = DOCS / name
    assert md.exists(), f"docs/{name} is missing"
    refs = references(md.read_text(encoding="utf-8"))
    assert sum(1 for _, ident in refs if ident) >= 5, f"docs/{name}: fewer than 5 `file:function` references"


@pytest.mark.parametrize("md", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_every_reference_exists(md):
    assert problems(md) == []


def test_images_are_committed_pngs():
    images = [t for md in DOCS.glob("*.md") for t in local_links(md.read_text(encoding="utf-8"))
              if t.endswith(".png")]
    assert len(images) >= 3
    for t in images:
        with open(DOCS / t, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", t


def test_checker_reports_stale_references(tmp_path):
    """The checker itself must fail on a renamed function, a missing file and a missing image."""
    (tmp_path / "csrc").mkdir()
    (tmp_path / "csrc" / "k.c").write_text("void DG_T(layer_forward)(real *out) {}\n")
    md = tmp_path / "page.md"
    md.write_text("Code: `csrc/k.c:layer_forward`, `csrc/k.c`\n")
    assert problems(md, root=tmp_path) == []
    md.write_text("Code: `csrc/k.c:layer_backward` and `csrc/k.c:layer_forwar`\n")
    assert len(problems(md, root=tmp_path)) == 2
    md.write_text("`csrc/gone.c:f` ![plot](img/none.png) [see](other.md)\n")
    assert len(problems(md, root=tmp_path)) == 3
    # http links, anchors and prose are not references
    md.write_text("[web](https://example.org) [here](#part-2) csrc/k.c:nothing_backticked\n")
    assert problems(md, root=tmp_path) == []
