"""The C API as `include/imconv.h` declares and documents it.

The header is cbindgen's output of the Rust doc comments, so this is the
one source of the reference pages and the man pages: each comment block
and the declaration after it become an `Item` (a function, a struct with
its members, a callback type, an opaque type or a constant), and the list
under `"key"` in imconv_sdk_new's comment becomes the config keys.
"""
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple


@dataclass
class Member:
    name: str
    decl: str
    doc: str


@dataclass
class Item:
    kind: str  # "function", "struct", "callback", "opaque", "constant", "config"
    name: str
    decl: str
    doc: str
    members: List[Member] = field(default_factory=list)
    value: str = ""


def dedent_comment(lines: List[str]) -> str:
    """The text of a `/* ... */` block without its markers and indent."""
    body = [ln for ln in lines]
    body[0] = body[0].split("/*", 1)[1]
    body[-1] = body[-1].rsplit("*/", 1)[0]
    text = [ln.rstrip() for ln in body]
    while text and not text[0].strip():
        text.pop(0)
    while text and not text[-1].strip():
        text.pop()
    indent = min((len(ln) - len(ln.lstrip()) for ln in text if ln.strip()), default=0)
    return "\n".join(ln[indent:] for ln in text)


def _comment_at(lines: List[str], i: int) -> Tuple[str, int]:
    """The comment starting at line i and the index after it."""
    j = i
    while "*/" not in lines[j]:
        j += 1
    return dedent_comment(lines[i:j + 1]), j + 1


def _statement(lines: List[str], i: int) -> Tuple[str, int]:
    """The declaration starting at line i up to its `;`, joined, and the
    index after it."""
    parts = []
    j = i
    while True:
        parts.append(lines[j].strip())
        if lines[j].rstrip().endswith(";"):
            break
        j += 1
    text = " ".join(parts)
    return re.sub(r"\s+", " ", text).replace("( ", "(").replace(" )", ")"), j + 1


def _struct(lines: List[str], i: int) -> Tuple[List[Member], str, int]:
    """Members of the struct whose `{` line is i; its typedef name and the
    index after the closing line."""
    members: List[Member] = []
    j = i + 1
    doc = ""
    while not lines[j].startswith("}"):
        s = lines[j].strip()
        if s.startswith("/*"):
            doc, j = _comment_at(lines, j)
            continue
        if not s:
            j += 1
            continue
        decl, j = _statement(lines, j)
        # The member's name: the identifier before `;`, or inside `(*name)`.
        m = re.search(r"\(\*(\w+)\)", decl) or re.search(r"(\w+)\s*(\[\w*\])?;$", decl)
        assert m, decl
        members.append(Member(m.group(1), decl, doc))
        doc = ""
    name = re.match(r"}\s*(\w+)\s*;", lines[j].strip())
    assert name, lines[j]
    return members, name.group(1), j + 1


def parse(path: Path) -> List[Item]:
    lines = path.read_text().splitlines()
    items: List[Item] = []
    i = 0
    # Skip the preamble: everything up to `#define IMCONV_H`.
    while not lines[i].startswith("#define IMCONV_H"):
        i += 1
    doc: Optional[str] = None
    while i < len(lines):
        s = lines[i]
        if s.startswith("/*") and not s.startswith("/* IMCONV_API"):
            doc, i = _comment_at(lines, i)
            continue
        if doc is not None and s.startswith("#define "):
            _, name, value = s.split(None, 2)
            items.append(Item("constant", name, s.strip(), doc, value=value))
        elif doc is not None and s.startswith("typedef struct") and s.rstrip().endswith("{"):
            start = i
            members, name, i = _struct(lines, i)
            decl = "\n".join(_code_only(lines[start:i]))
            items.append(Item("struct", name, decl, doc, members))
            doc = None
            continue
        elif doc is not None and s.startswith("typedef struct"):
            name = s.rstrip(";").split()[-1]
            items.append(Item("opaque", name, s.strip(), doc))
        elif doc is not None and s.startswith("typedef "):
            start = i
            decl, i = _statement(lines, i)
            m = re.search(r"\(\*(\w+)\)", decl)
            assert m, decl
            items.append(Item("callback", m.group(1), "\n".join(lines[start:i]), doc))
            doc = None
            continue
        elif doc is not None and s.startswith("IMCONV_API"):
            start = i
            decl, i = _statement(lines, i)
            decl = "\n".join(lines[start + 1:i]) if lines[start].strip() == "IMCONV_API" \
                else decl.replace("IMCONV_API ", "")
            m = re.search(r"(\w+)\(", decl)
            assert m, decl
            items.append(Item("function", m.group(1), decl, doc))
            doc = None
            continue
        elif s.strip():
            doc = None
        i += 1
    items.extend(config_keys(items))
    return items


def _code_only(lines: List[str]) -> List[str]:
    """The lines without their comments (a struct's members, bare)."""
    out, in_comment = [], False
    for ln in lines:
        if ln.strip().startswith("/*"):
            in_comment = "*/" not in ln
            continue
        if in_comment:
            in_comment = "*/" not in ln
            continue
        out.append(ln)
    return out


def config_keys(items: List[Item]) -> List[Item]:
    """The config keys: the `- "key"` list of imconv_sdk_new's comment
    (each item's text with its indented continuation lines)."""
    new = next(it for it in items if it.name == "imconv_sdk_new")
    keys: List[Tuple[str, List[str]]] = []
    current: Optional[List[str]] = None
    for ln in new.doc.splitlines():
        m = re.match(r'- `"(\w+)"`(.*)', ln)
        if m:
            current = [m.group(2).lstrip(" :")]
            keys.append((m.group(1), current))
        elif current is not None and ln.startswith("  "):
            current.append(ln.strip())
        else:
            current = None
    return [Item("config", name, f'"{name}"', " ".join(text).strip()) for name, text in keys]


def is_error_code(item: Item) -> bool:
    """IMCONV_OK and the IMCONV_ERR_* codes (each has a page of its own)."""
    return item.kind == "constant" and (item.name.startswith("IMCONV_ERR_") or item.name == "IMCONV_OK")


def by_name(items: List[Item]) -> Dict[str, Item]:
    return {it.name: it for it in items}


def summary(doc: str) -> str:
    """The first sentence of a comment, on one line."""
    text = " ".join(doc.split("\n\n")[0].split())
    depth = 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        ends = i + 1 == len(text) or text[i + 1] == " "
        if depth == 0 and ends and (ch == "." and not text[:i + 1].endswith(("e.g.", "i.e."))
                                    or ch == ":"):
            return text[:i]
    return text.rstrip(":.")
