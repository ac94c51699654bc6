#!/usr/bin/env python3
"""The API reference: one page per function, struct, callback type, error
code and config key of `include/imconv.h`, in C with its C++ and Python
forms beside it, as Markdown for the site and as section-3 man pages.

    python3 tools/docs/reference.py check          # completeness only
    python3 tools/docs/reference.py site DIR [MANDIR]  # DIR/<name>.md, index.md (and man pages)
    python3 tools/docs/reference.py man DIR            # DIR/man3/<name>.3

One source: the header's comments (cbindgen's output of the Rust doc
comments) give the text; `docs/reference/forms.toml` gives each item's C++
and Python forms and its version; `examples_c/reference/*.c` (compiled and
run by `make test`) give each function's example. Every mode checks first
and fails, naming each problem, when an item lacks a form, a version or an
example, when a form names something the C++ headers or the Python
package lack, or when the config keys the library accepts differ from
the documented ones. The Python package is imported (IMCONV_LIBRARY names
the library to load).
"""
import os
import re
import sys
import tomllib
from pathlib import Path
from typing import Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import header_model as hm  # noqa: E402
from forms import Forms, load_forms  # noqa: E402
import markup  # noqa: E402

# IMCONV_DOCS_ROOT: another tree to check (the reference's own test uses altered copies).
ROOT = Path(os.environ.get("IMCONV_DOCS_ROOT") or Path(__file__).resolve().parents[2])


def examples() -> Dict[str, Tuple[str, str]]:
    """name -> (file, code) of each `/* example: name */ ... /* end */`
    region of examples_c/reference/*.c."""
    out: Dict[str, Tuple[str, str]] = {}
    for path in sorted((ROOT / "examples_c" / "reference").glob("*.c")):
        text = path.read_text()
        for m in re.finditer(r"/\* example: (\w+) \*/\n(.*?)\n\s*/\* end \*/", text, re.S):
            out[m.group(1)] = (str(path.relative_to(ROOT)), dedent(m.group(2)))
    return out


def dedent(code: str) -> str:
    lines = code.splitlines()
    indent = min((len(ln) - len(ln.lstrip()) for ln in lines if ln.strip()), default=0)
    return "\n".join(ln[indent:] for ln in lines)


def chapters() -> List[Tuple[str, str, str]]:
    """(file name, title, text) of each guide chapter."""
    out = []
    for path in sorted((ROOT / "docs").glob("*.md")):
        text = path.read_text()
        title = next((ln[2:].strip() for ln in text.splitlines() if ln.startswith("# ")), path.stem)
        out.append((path.name, title, text))
    return out


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("check", "site", "man"):
        print(__doc__)
        return 2
    items = hm.parse(ROOT / "include" / "imconv.h")
    forms = load_forms(ROOT, items)
    found = examples()
    problems = forms.problems + [f"{it.name}: no example in examples_c/reference/ "
                                 f"(a /* example: {it.name} */ region)"
                                 for it in items if it.kind == "function" and it.name not in found]
    for p in problems:
        print(f"reference: {p}", file=sys.stderr)
    if problems:
        print(f"reference: {len(problems)} problems", file=sys.stderr)
        return 1
    counts = {k: sum(1 for it in items if it.kind == k) for k in
              ("function", "struct", "callback", "config")}
    members = sum(len(it.members) for it in items)
    errors = sum(1 for it in items if hm.is_error_code(it))
    summary = (f"reference: {counts['function']} functions, {counts['struct'] + 1} types "
               f"({members} members), {counts['callback']} callback types, {errors} error "
               f"codes, {counts['config']} config keys: every one with C++ and Python forms "
               f"and a version, every function with an example")
    if sys.argv[1] == "check":
        print(summary)
        return 0
    out = Path(sys.argv[2])
    book = markup.Book(items, forms, found, chapters(), preamble(ROOT / "include" / "imconv.h"),
                       version(ROOT / "include" / "imconv.h"))
    man = out if sys.argv[1] == "man" else Path(sys.argv[3]) if len(sys.argv) > 3 else None
    if sys.argv[1] == "site":
        out.mkdir(parents=True, exist_ok=True)
        for name, text in book.markdown_pages().items():
            (out / name).write_text(text)
    if man is not None:
        (man / "man3").mkdir(parents=True, exist_ok=True)
        for name, text in book.man_pages().items():
            (man / "man3" / name).write_text(text)
    print(summary)
    return 0


def version(header: Path) -> str:
    """The header's version, from its IMCONV_VERSION_* macros."""
    text = header.read_text()
    return ".".join(re.search(r"#define IMCONV_VERSION_%s (\d+)" % part, text).group(1)  # type: ignore
                    for part in ("MAJOR", "MINOR", "PATCH"))


def preamble(header: Path) -> str:
    """The header's opening comment: the calling contract of every call."""
    text = header.read_text()
    block = text[text.index("/*") + 2:text.index("*/")]
    lines = [ln[3:] if ln.startswith(" * ") else ln.lstrip(" *") for ln in block.splitlines()]
    return "\n".join(lines).strip()


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["Forms"]
