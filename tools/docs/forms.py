"""Each item's C++ and Python forms and its version: from
`docs/reference/forms.toml` for functions and callback types, by rule for
struct members, enumerated constants, error codes and config keys; and
the check that every form names something the bindings really have."""
import dataclasses
import inspect
import os
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import header_model as hm

# The C++ class and Python class of each struct; how a member's form is made.
STRUCTS = {
    "imconv_sdk": ("imconv::Sdk", "imconv.Sdk"),
    "imconv_message": ("imconv::Message", "imconv.Message"),
    "imconv_group_at_info": ("imconv::GroupAtInfo", "imconv.GroupAtInfo"),
    "imconv_conversation": ("imconv::Conversation", "imconv.Conversation"),
    "imconv_list_filter": ("imconv::Filter", "imconv.Filter"),
    "imconv_listener": ("imconv::Listener", "imconv.Sdk.add_listener"),
}


@dataclass
class Forms:
    cpp: Dict[str, List[str]] = field(default_factory=dict)
    python: Dict[str, List[str]] = field(default_factory=dict)
    since: Dict[str, str] = field(default_factory=dict)
    groups: Dict[str, List[str]] = field(default_factory=dict)
    # Error code name -> (text, Python exception class name).
    errors: Dict[str, Tuple[str, str]] = field(default_factory=dict)
    problems: List[str] = field(default_factory=list)


def member_forms(struct: str, member: str, overrides: Dict[str, Any]) -> Tuple[List[str], List[str]]:
    key = f"{struct}.{member}"
    if key in overrides:
        return list(overrides[key]["cpp"]), list(overrides[key]["python"])
    cpp, py = STRUCTS[struct]
    if struct == "imconv_conversation":
        return [f"{cpp}::{member}() const"], [f"{py}.{member}"]
    if struct == "imconv_listener":
        return [f"{cpp}::{member}"], [f"{py}({member}=...)"]
    return [f"{cpp}::{member}"], [f"{py}.{member}"]


def python_enum_member(enumerator: str) -> str:
    """The Python spelling of a C++ enumerator: NotNotifyExceptAt ->
    NOT_NOTIFY_EXCEPT_AT, C2C -> C2C, Ok -> OK."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", enumerator).upper()


def cpp_enumerators(include: Path) -> Dict[str, Tuple[str, str]]:
    """C constant -> (C++ enum, enumerator), from the enums of imconv.hpp."""
    out = {}
    text = (include / "imconv.hpp").read_text()
    for enum, body in re.findall(r"enum class (\w+)[^{]*\{([^}]*)\}", text):
        for enumerator, constant in re.findall(r"(\w+)\s*=\s*(IMCONV_\w+)", body):
            out[constant] = (enum, enumerator)
    return out


def load_forms(root: Path, items: List[hm.Item]) -> Forms:
    table = tomllib.loads((root / "docs" / "reference" / "forms.toml").read_text())
    f = Forms()
    f.since = dict(table.pop("since", {}))
    f.groups = dict(table.pop("groups", {}))
    overrides = table.pop("member_forms", {})
    for name, entry in table.items():
        f.cpp[name], f.python[name] = list(entry.get("cpp", [])), list(entry.get("python", []))
        if "since" in entry:
            f.since[name] = entry["since"]
    enums = cpp_enumerators(root / "include")
    for it in items:
        if it.kind in ("function", "callback"):
            if it.name not in table:
                f.problems.append(f"{it.name}: no entry in docs/reference/forms.toml")
                continue
        elif it.kind in ("struct", "opaque"):
            f.cpp[it.name], f.python[it.name] = [STRUCTS[it.name][0]], [STRUCTS[it.name][1]]
            for m in it.members:
                key = f"{it.name}.{m.name}"
                f.cpp[key], f.python[key] = member_forms(it.name, m.name, overrides)
                f.since.setdefault(key, f.since.get(it.name, ""))
        elif it.kind == "constant" and it.name in enums:
            enum, enumerator = enums[it.name]
            f.cpp[it.name] = [f"imconv::{enum}::{enumerator}"]
            f.python[it.name] = [f"imconv.{enum}.{python_enum_member(enumerator)}"]
        elif it.kind == "config":
            key = f"config.{it.name}"
            f.cpp[key] = [f'imconv::Sdk::Sdk(R"({{"user_id": "me", "{it.name}": ...}})")']
            if it.name == "user_id":
                f.python[key] = ['imconv.Sdk("me")']
            elif it.name == "data_dir":
                f.python[key] = ['imconv.Sdk("me", "/path/to/dir")']
            else:
                f.python[key] = [f'imconv.Sdk("me", data_dir, {it.name}=...)']
        key = f"config.{it.name}" if it.kind == "config" else it.name
        if it.kind != "constant" and key not in f.since:
            f.problems.append(f"{key}: no version (\"since\") in docs/reference/forms.toml")
        if it.kind in ("function", "callback", "struct", "opaque", "config"):
            for lang, forms in (("C++", f.cpp), ("Python", f.python)):
                if not forms.get(key):
                    f.problems.append(f"{key}: no {lang} form in docs/reference/forms.toml")
    for it in items:
        if hm.is_error_code(it):
            if it.name not in enums:
                f.problems.append(f"{it.name}: no imconv::ErrorCode enumerator in imconv.hpp")
    f.problems.extend(check_config_keys(root, items))
    f.problems.extend(check_forms(root, f))
    add_async_forms(f)
    f.problems.extend(check_groups(items, f))
    f.errors = error_texts(items)
    return f


def check_groups(items: List[hm.Item], f: Forms) -> List[str]:
    grouped = {name for names in f.groups.values() for name in names}
    return [f"{it.name}: in no [groups] list of docs/reference/forms.toml (the index's sections)"
            for it in items if it.kind == "function" and it.name not in grouped]


def check_config_keys(root: Path, items: List[hm.Item]) -> List[str]:
    """The keys config.rs accepts (its "known: ..." message) against the
    keys imconv_sdk_new's comment documents."""
    text = (root / "src" / "config.rs").read_text()
    m = re.search(r"unknown key \{\} \(known: ([\w, ]+)\)", text)
    if not m:
        return ["src/config.rs: the 'known: ...' list of config keys was not found"]
    accepted = {k.strip() for k in m.group(1).split(",")}
    documented = {it.name for it in items if it.kind == "config"}
    return ([f"config key {k!r}: accepted by src/config.rs, not documented in imconv_sdk_new's "
             f"comment" for k in sorted(accepted - documented)]
            + [f"config key {k!r}: documented, not accepted by src/config.rs"
               for k in sorted(documented - accepted)])


def check_forms(root: Path, f: Forms) -> List[str]:
    sys.path.insert(0, str(root / "tools"))
    import check_cpp_docs
    cpp_names = set(check_cpp_docs.public_names(root / "include"))
    sys.path.insert(0, str(root / "bindings" / "python"))
    os.environ.setdefault("IMCONV_LIBRARY", str(root / "target" / "release" / "libimconv.so"))
    import imconv
    problems = []
    for key, forms in f.cpp.items():
        for form in forms:
            names = re.findall(r"imconv(?:::~?\w+)+", form)
            if not names and not form.startswith("("):
                problems.append(f"{key}: C++ form names nothing to check: {form}")
            for name in names:
                if name not in cpp_names and f"{name}::{name.rsplit('::', 1)[1]}" not in cpp_names:
                    problems.append(f"{key}: C++ form {name} is not in include/imconv*.hpp")
    for key, forms in f.python.items():
        for form in forms:
            found = re.findall(r"imconv((?:\.\w+)+)(?:\((\w+)=)?", form)
            if not found and not form.startswith("("):
                problems.append(f"{key}: Python form names nothing to check: {form}")
            for path, param in found:
                why = python_missing(imconv, path.lstrip(".").split("."), param)
                if why:
                    problems.append(f"{key}: Python form imconv{path}: {why}")
    return problems


def add_async_forms(f: Forms) -> None:
    """The asyncio form beside each blocking method that has one."""
    import imconv
    for forms in f.python.values():
        for form in list(forms):
            m = re.match(r"imconv\.Sdk\.(\w+)\((.*)", form)
            if m and inspect.iscoroutinefunction(getattr(imconv.AsyncSdk, m.group(1), None)):
                forms.append(f"await imconv.AsyncSdk.{m.group(1)}({m.group(2)}")


def python_missing(module: Any, parts: List[str], param: str) -> Optional[str]:
    obj = module
    for i, part in enumerate(parts):
        if hasattr(obj, part):
            obj = getattr(obj, part)
        elif (i == len(parts) - 1 and dataclasses.is_dataclass(obj)
              and part in {x.name for x in dataclasses.fields(obj)}):
            return None
        else:
            return f"no attribute {part!r}"
    if param and param not in inspect.signature(obj).parameters:
        return f"takes no parameter {param!r}"
    return None


def error_texts(items: List[hm.Item]) -> Dict[str, Tuple[str, str]]:
    from imconv.errors import error_for, error_text
    out = {}
    for it in items:
        if hm.is_error_code(it):
            code = int(it.value)
            cls = type(error_for(code, "")).__name__ if code else ""
            out[it.name] = (error_text(code), cls)
    return out
