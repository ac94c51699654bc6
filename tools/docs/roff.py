"""Section-3 man pages (man(7) macros) of the reference's items."""
import re
from typing import TYPE_CHECKING, List

import header_model as hm

if TYPE_CHECKING:
    from markup import Book


def esc(text: str) -> str:
    """Text safe in roff: backslashes escaped, a leading dot or quote
    guarded, inline code in bold, Markdown links reduced to their text."""
    text = text.replace("\\", "\\e")
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)
    text = re.sub(r"`([^`]+)`", r"\\fB\1\\fR", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"\\fB\1\\fR", text)
    return "\n".join("\\&" + ln if ln.startswith((".", "'")) else ln for ln in text.splitlines())


def code(lines: List[str]) -> List[str]:
    return [".PP", ".nf", ".RS 4", *[esc_code(ln) for ln in lines], ".RE", ".fi"]


def esc_code(line: str) -> str:
    line = line.replace("\\", "\\e")
    return "\\&" + line if line.startswith((".", "'")) else line


def prose(doc: str) -> List[str]:
    """A comment's Markdown as man macros: paragraphs, `- ` lists (with
    their indented continuation lines), `#` headings, fenced code."""
    out: List[str] = []
    para: List[str] = []

    def flush() -> None:
        if para:
            out.append(esc(" ".join(p.strip() for p in para)))
            para.clear()
    lines = doc.splitlines()
    i = 0
    while i < len(lines):
        ln = lines[i]
        if ln.startswith("```"):
            flush()
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            out += code(lines[i + 1:j])
            i = j + 1
            continue
        if not ln.strip():
            flush()
        elif ln.startswith("#"):
            flush()
            out += [f".SS {esc(ln.lstrip('#').strip())}"]
        elif re.match(r"\s*- ", ln):
            flush()
            out += [".IP \\(bu 2"]
            para.append(ln.strip()[2:])
        else:
            if not para and not (out and out[-1].startswith(".IP")):
                out.append(".PP")
            para.append(ln)
        i += 1
    flush()
    return out


def header(name: str, version: str) -> List[str]:
    return [f'.TH {name.upper()} 3 "" "imconv {version}" "imconv manual"']


def forms(book: "Book", key: str) -> List[str]:
    out: List[str] = []
    for title, table in (("C++", book.forms.cpp), ("PYTHON", book.forms.python)):
        listed = table.get(key, [])
        if not listed:
            continue
        out.append(f".SH {title}")
        plain = [f for f in listed if not f.startswith("(")]
        if plain:
            out += code(plain)
        for note in (f for f in listed if f.startswith("(")):
            out += [".PP", esc(note.strip("()"))]
    return out


def page(book: "Book", it: hm.Item) -> str:
    lines = header(it.name, book.version)
    lines += [".SH NAME", f"{it.name} \\- {esc(hm.summary(it.doc))}", ".SH SYNOPSIS"]
    lines += code(["#include <imconv.h>", "", *it.decl.splitlines()])
    lines += forms(book, it.name)
    lines += [".SH DESCRIPTION", *prose(it.doc)]
    kind = book.contract(it.doc)
    if kind:
        lines += [".PP", f"The calling contract of {kind} (return values, the one callback, its "
                  "thread, ownership) is in \\fBimconv\\fR(3)."]
    for m in it.members:
        lines += [f".SS {m.name}", *code([m.decl]), *prose(m.doc)]
        since = book.since(f"{it.name}.{m.name}")
        if since != book.since(it.name):
            lines += [".PP", f"Since {since}."]
    if it.name in book.examples:
        path, text = book.examples[it.name]
        lines += [".SH EXAMPLE", f"From {esc(path)} in the source tree:", *code(text.splitlines())]
    lines += [".SH VERSIONS", f"Since imconv {book.since(it.name)}."]
    named = sorted({n for n in re.findall(r"\bimconv_\w+", it.doc)
                    if n != it.name and n in book.paged and book.paged[n].kind != "constant"})
    lines += [".SH SEE ALSO", ", ".join(f"\\fB{n}\\fR(3)" for n in ["imconv", *named])]
    return "\n".join(lines) + "\n"


def overview(book: "Book") -> str:
    lines = header("imconv", book.version)
    lines += [".SH NAME", "imconv \\- the conversation layer of an IM client SDK (C ABI)",
              ".SH SYNOPSIS", ".nf", ".B #include <imconv.h>", ".PP", "cc app.c -limconv", ".fi",
              ".SH DESCRIPTION", *prose(book.preamble)]
    by = {it.name: it for it in book.items}
    for group, names in book.forms.groups.items():
        lines.append(f".SS {esc(group)}")
        for n in names:
            lines += [".TP", f"\\fB{n}\\fR(3)", esc(hm.summary(by[n].doc))]
    lines.append(".SH ERRORS")
    for it in book.items:
        if hm.is_error_code(it):
            lines += [".TP", f"\\fB{it.name}\\fR ({it.value})", esc(" ".join(it.doc.split()))]
    lines.append(".SH CONFIGURATION")
    lines.append("The JSON object of \\fBimconv_sdk_new\\fR(3):")
    for it in book.items:
        if it.kind == "config":
            lines += [".TP", f'\\fB"{it.name}"\\fR', esc(it.doc)]
    return "\n".join(lines) + "\n"
