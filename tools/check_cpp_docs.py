#!/usr/bin/env python3
"""Every public name of the C++ layer has a doc comment (issue 25, item 5).

Reads include/imconv.hpp and include/imconv_sdk.hpp and lists each public
declaration (namespace-level types, functions and aliases; public members
of classes and structs; fields) outside `namespace detail`, with whether a
`///` comment stands right before it (a `template <...>` line and
attributes may come between) or a `///<` after it on its line. Enumerators
are covered by their enum's comment. Prints the count; exits 1 naming each
undocumented one.

    python3 tools/check_cpp_docs.py [include-dir]
"""
import re
import sys
from pathlib import Path
from typing import List, Tuple

HEADERS = ["imconv.hpp", "imconv_sdk.hpp"]


def strip_strings(line: str) -> str:
    """The line without string and char literals and // comments (so
    braces inside them are not counted)."""
    line = re.sub(r'R"\((.*?)\)"', '""', line)
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])*'", "''", line)
    return line.split("//", 1)[0]


def declarations(path: Path) -> List[Tuple[int, str, bool, str]]:
    """(line number, text, documented, scope) of each public declaration;
    the scope names its namespaces and classes ("imconv::Sdk")."""
    lines = path.read_text().splitlines()
    out: List[Tuple[int, str, bool, str]] = []
    # Each open brace: its kind ("namespace", "detail", "class", "struct",
    # "enum", "body") and, for class/struct, whether members are public now.
    stack: List[List] = []
    pending_kind = None  # the kind of the next "{"
    pending_name = ""  # the name of the namespace, class or struct it opens
    paren = 0
    in_block_comment = False
    for no, raw in enumerate(lines, 1):
        line = raw.strip()
        if in_block_comment:
            if "*/" in line:
                in_block_comment = False
            continue
        if line.startswith("/*"):
            in_block_comment = "*/" not in line
            continue
        code = strip_strings(line)
        # `template <...>` and `[[attribute]]` before a declaration on the same line.
        code = re.sub(r"^(?:template\s*<[^>]*>\s*|\[\[\w+\]\]\s*)+(?=\w)", "", code)
        top = stack[-1] if stack else None
        at_member_level = (paren == 0 and (top is None or top[0] in ("namespace", "class", "struct")))
        if at_member_level and code and not code.startswith(("#", "}", "template", "[[")) \
                and code not in ("public:", "private:", "protected:"):
            public = top is None or top[0] == "namespace" or top[1]
            in_detail = any(f[0] == "detail" for f in stack)
            is_decl = re.match(r"[A-Za-z_~]", code) and not code.startswith(
                ("return", "namespace", "using namespace", "friend"))
            if public and not in_detail and is_decl:
                scope = "::".join(f[2] for f in stack if f[2])
                out.append((no, line, documented(lines, no - 1), scope))
        if code in ("public:",) and top and top[0] in ("class", "struct"):
            top[1] = True
        elif code in ("private:", "protected:") and top and top[0] in ("class", "struct"):
            top[1] = False
        # What the next brace opens.
        if paren == 0 and at_member_level:
            named = re.match(r"(?:template\s*<.*>\s*)?(?:namespace|class|struct)\s+(?:\[\[\w+\]\]\s*)?(\w+)",
                             code)
            pending_name = named.group(1) if named else ""
            if re.match(r"namespace\s+detail\b", code):
                pending_kind = "detail"
            elif re.match(r"namespace\b", code):
                pending_kind = "namespace"
            elif re.match(r"enum\b", code):
                pending_kind = "enum"
            elif re.match(r"(template\s*<.*>\s*)?class\b", code) and not code.endswith(";"):
                pending_kind = "class"
            elif re.match(r"(template\s*<.*>\s*)?struct\b", code) and not code.endswith(";"):
                pending_kind = "struct"
            elif code and not code.startswith(("template", "[[")):
                pending_kind = "body"
        for ch in code:
            if ch == "(":
                paren += 1
            elif ch == ")":
                paren -= 1
            elif ch == "{":
                kind = pending_kind or "body"
                if paren > 0:
                    kind = "body"
                named_frame = kind in ("namespace", "class", "struct", "enum")
                stack.append([kind, kind == "struct", pending_name if named_frame else ""])
                pending_kind = "body"
            elif ch == "}":
                if stack:
                    stack.pop()
        if code.endswith(";") and paren == 0:
            pending_kind = None
    return out


def without_templates(code: str) -> str:
    """`code` with every `<...>` (nested) removed, so that commas and
    parentheses inside template arguments do not count."""
    out, depth = [], 0
    for ch in code:
        if ch == "<" and not out[-1:] == ["<"]:
            depth += 1
        elif ch == ">" and depth:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def public_names(folder: Path) -> List[str]:
    """Qualified names of the public declarations ("imconv::Sdk::get_groups",
    "imconv::Listener::on_new") and of the enumerators
    ("imconv::ErrorCode::Ok")."""
    names: List[str] = []
    for name in HEADERS:
        path = folder / name
        for _, text, _, scope in declarations(path):
            code = without_templates(strip_strings(text))
            kind = re.match(r"(?:template\s*<.*>\s*)?(?:class|struct|enum class)\s+(?:\[\[\w+\]\]\s*)?(\w+)",
                            strip_strings(text))
            if kind:
                declared = [kind.group(1)]
            elif code.startswith("using "):
                declared = re.findall(r"using\s+(\w+)", code)
            elif "(" in code:
                declared = re.findall(r"(~?\w+|operator\S+?)\s*\(", code)[:1]
            else:
                # Every name of `T a = x, b;` (or `T a{...};`).
                body = re.split(r"[;{]", code)[0]
                declared = [m.group(1) for m in
                            (re.search(r"(\w+)\s*(?:=.*)?$", part) for part in body.split(","))
                            if m]
            names.extend(f"{scope}::{d}" for d in declared)
        text = path.read_text()
        for enum, body in re.findall(r"enum class (\w+)[^{]*\{([^}]*)\}", text):
            for enumerator in re.findall(r"(\w+)\s*=", body):
                names.append(f"imconv::{enum}::{enumerator}")
    return names


def documented(lines: List[str], index: int) -> bool:
    if "///<" in lines[index]:
        return True
    i = index - 1
    while i >= 0:
        prev = lines[i].strip()
        if prev.startswith("template") or prev.startswith("[["):
            i -= 1
            continue
        return prev.startswith("///")
    return False


def main() -> int:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "include")
    missing = []
    total = 0
    for name in HEADERS:
        for no, text, ok, _ in declarations(folder / name):
            total += 1
            if not ok:
                missing.append(f"{name}:{no}: {text}")
    for m in missing:
        print(f"undocumented: {m}")
    print(f"C++ layer: {total - len(missing)} of {total} public names documented")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
