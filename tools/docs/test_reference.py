#!/usr/bin/env python3
"""The reference's completeness check fails when it should (make test-docs).

Copies what the check reads (the headers, forms.toml, the chapters,
src/config.rs, the examples, the Python package) into a temporary tree,
makes one change at a time, runs `reference.py check` on it, and expects
a failure naming the problem; the unchanged copy must pass.
"""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, List, Tuple

ROOT = Path(__file__).resolve().parents[2]
COPIED = ["include", "docs", "src/config.rs", "examples_c/reference", "tools/check_cpp_docs.py",
          "bindings/python/imconv"]


def edit(path: str, old: str, new: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        file = root / path
        text = file.read_text()
        assert old in text, f"{path}: {old!r} not found (the test is out of date)"
        file.write_text(text.replace(old, new, 1))
    return apply


CASES: List[Tuple[str, Callable[[Path], None], str]] = [
    ("a function without a forms.toml entry",
     edit("docs/reference/forms.toml", "[imconv_mark_read]", "[imconv_mark_read_renamed]"),
     "imconv_mark_read: no entry in docs/reference/forms.toml"),
    ("a Python form the package does not have",
     edit("bindings/python/imconv/sdk.py", "def mark_read(", "def mark_read_later("),
     "imconv_mark_read: Python form imconv.Sdk.mark_read: no attribute 'mark_read'"),
    ("a C++ form the headers do not have",
     edit("include/imconv_sdk.hpp", "void suspend()", "void suspend_now()"),
     "imconv_suspend: C++ form imconv::Sdk::suspend is not in include/imconv*.hpp"),
    ("a struct member the bindings do not have",
     edit("include/imconv.h", "    int64_t timestamp_ms;\n",
          "    int64_t timestamp_ms;\n    /*\n     Added.\n     */\n    int32_t priority;\n"),
     "imconv_message.priority: C++ form imconv::Message::priority is not in"),
    ("a config key accepted but not documented",
     edit("src/config.rs", "(known: user_id,", "(known: user_id, retention_days,"),
     "config key 'retention_days': accepted by src/config.rs, not documented"),
    ("a Python keyword the listener does not take",
     edit("bindings/python/imconv/_instance.py", "on_store_error: Optional", "on_store_failure: Optional"),
     "imconv_listener.on_store_error: Python form imconv.Sdk.add_listener: takes no parameter "
     "'on_store_error'"),
    ("a function without an example",
     edit("examples_c/reference/writes.c", "/* example: imconv_set_draft */", "/* draft */"),
     "imconv_set_draft: no example"),
    ("a function outside every section of the index",
     edit("docs/reference/forms.toml", '"imconv_backup", "imconv_rekey"]', '"imconv_rekey"]'),
     "imconv_backup: in no [groups] list"),
]


def check(root: Path) -> Tuple[int, str]:
    env = dict(os.environ, IMCONV_DOCS_ROOT=str(root), PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "docs" / "reference.py"), "check"],
                            env=env, capture_output=True, text=True)
    return result.returncode, result.stdout + result.stderr


def main() -> int:
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, change, expected in [("the tree as it is", lambda root: None, ""), *CASES]:
            root = Path(tmp) / "tree"
            shutil.rmtree(root, ignore_errors=True)
            for part in COPIED:
                src, dst = ROOT / part, root / part
                dst.parent.mkdir(parents=True, exist_ok=True)
                (shutil.copytree if src.is_dir() else shutil.copy)(src, dst)
            change(root)
            rc, out = check(root)
            ok = rc == 0 if not expected else rc != 0 and expected in out
            print(f"{'ok  ' if ok else 'FAIL'} {name}")
            if not ok:
                failures += 1
                print(f"     expected {'a pass' if not expected else repr(expected)}; got exit {rc}:")
                print("     " + out.strip().replace("\n", "\n     "))
    print(f"reference check: {len(CASES) + 1 - failures} of {len(CASES) + 1} cases as expected")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
