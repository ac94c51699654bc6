"""The reference written out: Markdown pages for the site and roff pages
for man(1), both from the same items, forms and examples."""
import re
from typing import Dict, List, Tuple

import header_model as hm
import roff
from forms import Forms

Chapter = Tuple[str, str, str]  # file name, title, text

KIND_TITLES = {"function": "function", "struct": "struct", "opaque": "type",
               "callback": "callback type"}


def page_of(item: hm.Item) -> str:
    """The site page (without .md) and man page name of an item."""
    return f"config-{item.name}" if item.kind == "config" else item.name


class Book:
    def __init__(self, items: List[hm.Item], forms: Forms, examples: Dict[str, Tuple[str, str]],
                 chapters: List[Chapter], preamble: str, version: str) -> None:
        self.items = items
        self.forms = forms
        self.examples = examples
        self.chapters = chapters
        self.preamble = preamble
        self.paged = {it.name: it for it in items
                      if it.kind != "constant" or hm.is_error_code(it)}
        self.version = version

    # ---- shared pieces --------------------------------------------------------

    def link(self, text: str, here: str) -> str:
        """`text` with each name of a paged item (in backticks or bare, outside
        code blocks and links) made a link to its page."""
        out = []
        for i, part in enumerate(re.split(r"(```.*?```)", text, flags=re.S)):
            if i % 2:
                out.append(part)
                continue

            def repl(m: "re.Match[str]") -> str:
                tick, name = m.group(1), m.group(2)
                item = self.paged.get(name)
                if item is None or item.kind == "config" or name == here:
                    return m.group(0)
                return f"[{tick}{name}{tick}]({page_of(item)}.md)"
            out.append(re.sub(r"(?<![\[\w/])(`?)((?:imconv|IMCONV)_\w+)\1(?![\w\]])", repl, part))
        return "".join(out)

    def mentions(self, name: str) -> List[Chapter]:
        pattern = re.compile(r"\b%s\b" % re.escape(name))
        return [c for c in self.chapters if pattern.search(c[2])]

    def since(self, key: str) -> str:
        v = self.forms.since.get(key, "")
        return f"{v} (not yet released)" if v > self.version else v

    def contract(self, doc: str) -> str:
        if 'preamble, "Writes"' in doc:
            return "writes"
        if 'preamble, "Reads"' in doc:
            return "reads"
        return ""

    def forms_md(self, key: str) -> List[str]:
        out = []
        for lang, fence, forms in (("C++", "cpp", self.forms.cpp), ("Python", "python",
                                                                     self.forms.python)):
            listed = forms.get(key, [])
            code = [f for f in listed if not f.startswith("(")]
            notes = [f for f in listed if f.startswith("(")]
            out.append(f"**{lang}**\n")
            if code:
                out += [f"```{fence}", *code, "```", ""]
            out += [f"{n[1:].split(')')[0].capitalize()}: {n.split(')', 1)[1].strip() or ''}".rstrip(": ")
                    + "\n" for n in notes]
        return out

    # ---- Markdown ---------------------------------------------------------------

    def markdown_pages(self) -> Dict[str, str]:
        pages = {"index.md": self.index_md(), "contract.md": self.contract_md(),
                 "constants.md": self.constants_md()}
        for it in self.items:
            if it.kind == "constant" and not hm.is_error_code(it):
                continue
            pages[page_of(it) + ".md"] = self.item_md(it)
        return pages

    def item_md(self, it: hm.Item) -> str:
        key = f"config.{it.name}" if it.kind == "config" else it.name
        title = f'"{it.name}" (config key)' if it.kind == "config" else it.name
        first = config_summary(it.doc) if it.kind == "config" else hm.summary(it.doc)
        lines = [f"# {title}", "", self.link(first + ".", it.name) if it.doc else "", ""]
        if it.kind == "constant":
            text, cls = self.forms.errors[it.name]
            lines += ["```c", f"#define {it.name} {it.value}", "```", "",
                      f"`imconv_error_str({it.value})`: \"{text}\"", ""]
        elif it.kind == "config":
            lines += ["```text", f'{{"user_id": "me", "{it.name}": ...}}', "```", "",
                      f"A key of the JSON object [`imconv_sdk_new`](imconv_sdk_new.md) takes "
                      f"(and [`imconv_delete_store`](imconv_delete_store.md)).", ""]
        else:
            lines += ["```c", "#include <imconv.h>", "", it.decl, "```", ""]
        lines += self.forms_md(key)
        if it.kind == "constant":
            text, cls = self.forms.errors[it.name]
            if cls:
                lines += [f"Raised in Python as `imconv.{cls}` (its `.code` is the ErrorCode); "
                          f"thrown in C++ as `imconv::Error` (its `code()`).", ""]
        text = re.sub(r'is\s+in\s+the\s+header\'s\s+preamble,\s+"(Writes|Reads)"',
                      lambda m: f"is on [The calling contract](contract.md#{m.group(1).lower()}), "
                      f'"{m.group(1)}"', demote(it.doc))
        lines += ["## Description", "", self.link(text, it.name), ""]
        for m in it.members:
            mk = f"{it.name}.{m.name}"
            lines += [f"## `{m.name}`", "", "```c", m.decl, "```", "",
                      self.link(m.doc, it.name), ""]
            lines += self.forms_md(mk)
            lines += [f"Since {self.since(mk)}.", ""]
        if it.name in self.examples:
            path, code = self.examples[it.name]
            lines += ["## Example", "", f"From `{path}`, which `make test` compiles and runs "
                      "(`struct call`, `call_done`, `call_failed` and `call_result` are the "
                      "examples' helper, `examples_c/reference/example.h`: they wait for the "
                      "callback so that the example reads top to bottom):", "",
                      "```c", code, "```", ""]
        if hm.is_error_code(it):
            users = [x for x in self.items if x.kind == "function" and it.name in x.doc]
            if users:
                lines += ["## Named by", "", ", ".join(f"[`{u.name}`]({u.name}.md)" for u in users), ""]
        else:
            lines += ["## Version", "", f"Since {self.since(key)}.", ""]
        seen = self.mentions(it.name if it.kind != "config" else f'"{it.name}"')
        if seen:
            lines += ["## In the guide", ""]
            lines += [f"- [{title_}](../{name})" for name, title_, _ in seen]
            lines.append("")
        return "\n".join(lines)

    def index_md(self) -> str:
        by = {it.name: it for it in self.items}
        lines = ["# Reference", "",
                 "One page per function, type, callback type, error code and config key of "
                 "`imconv.h`, with the C++ (`imconv.hpp`) and Python (`import imconv`) forms "
                 "beside the C. Generated from the header's comments (the same text as the header "
                 "and the man pages: `man 3 imconv_get_conversation` after `make install`). "
                 "[The calling contract](contract.md) of every asynchronous call is written once.",
                 ""]
        for group, names in self.forms.groups.items():
            lines += [f"## {group}", "", "| Function | What it does |", "|---|---|"]
            lines += [f"| [`{n}`]({n}.md) | {hm.summary(by[n].doc)} |" for n in names]
            lines.append("")
        for title, kinds in (("Types", ("opaque", "struct")), ("Callback types", ("callback",))):
            lines += [f"## {title}", "", "| Type | What it is |", "|---|---|"]
            lines += [f"| [`{it.name}`]({it.name}.md) | {hm.summary(it.doc)} |"
                      for it in self.items if it.kind in kinds]
            lines.append("")
        lines += ["## Error codes", "", "| Code | Name | `imconv_error_str` |", "|---|---|---|"]
        lines += [f"| {it.value} | [`{it.name}`]({it.name}.md) | {self.forms.errors[it.name][0]} |"
                  for it in self.items if hm.is_error_code(it)]
        lines += ["", "## Config keys", "",
                  "The JSON object of [`imconv_sdk_new`](imconv_sdk_new.md):", "",
                  "| Key | What it sets |", "|---|---|"]
        lines += [f"| [`\"{it.name}\"`](config-{it.name}.md) | {config_summary(it.doc)} |"
                  for it in self.items if it.kind == "config"]
        lines += ["", "## Constants", "",
                  "Conversation types, receive options, @ types, marks, log levels, sync stages "
                  "and limits: [Constants](constants.md).", ""]
        return "\n".join(lines)

    def contract_md(self) -> str:
        text = self.preamble
        text = re.sub(r"^ ?Writes \(", "## Writes\n\nWrites (", text, flags=re.M)
        text = re.sub(r"^ ?Reads \(", "## Reads\n\nReads (", text, flags=re.M)
        return "\n".join(["# The calling contract", "",
                          "The opening comment of `imconv.h`: what every call promises. Each "
                          "function's page says only what is particular to it.", "",
                          self.link(text, ""), ""])

    def constants_md(self) -> str:
        lines = ["# Constants", "", "The `#define`s of `imconv.h` that are not error codes "
                 "([those have a page each](index.md#error-codes)).", "",
                 "| Name | Value | Meaning | C++ | Python | Since |", "|---|---|---|---|---|---|"]
        for it in self.items:
            if it.kind != "constant" or hm.is_error_code(it):
                continue
            cpp = ", ".join(f"`{f}`" for f in self.forms.cpp.get(it.name, [])) or "the C macro"
            py = ", ".join(f"`{f}`" for f in self.forms.python.get(it.name, [])) or "the C macro"
            meaning = " ".join(it.doc.split()).replace("|", "\\|")
            lines.append(f"| `{it.name}` | {it.value} | {self.link(meaning, '')} | {cpp} | {py} "
                         f"| {self.since(it.name)} |")
        lines.append("")
        return "\n".join(lines)

    # ---- man pages ------------------------------------------------------------------

    def man_pages(self) -> Dict[str, str]:
        pages = {}
        for it in self.items:
            if it.kind in ("function", "struct", "opaque", "callback"):
                pages[f"{it.name}.3"] = roff.page(self, it)
        pages["imconv.3"] = roff.overview(self)
        return pages


def demote(doc: str) -> str:
    """The comment's `# Safety` headings one level down (under the page's)."""
    return re.sub(r"^# ", "### ", doc, flags=re.M)


def config_summary(doc: str) -> str:
    """A config key's type and default, then its first sentence (to the
    first `.` or `;` outside parentheses)."""
    text = " ".join(doc.split())
    kind = ""
    if text.startswith("("):
        depth = 0
        for i, ch in enumerate(text):
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth == 0:
                kind, text = text[:i + 1], text[i + 1:].lstrip(": ")
                break
    depth, end = 0, len(text)
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0 and ch in ".;" and (i + 1 == len(text) or text[i + 1] == " "):
            end = i
            break
    return f"{kind} {text[:end]}".strip().replace("|", "\\|")
