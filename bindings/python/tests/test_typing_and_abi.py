"""The package is typed (`mypy --strict` passes on it and catches a wrong
argument in a user's script), documented (a docstring on every public
name), and its ctypes structures match the C header field by field."""
import ctypes
import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import imconv
from imconv import _native

ROOT = Path(__file__).resolve().parents[3]


def mypy(*args: str) -> "subprocess.CompletedProcess[str]":
    pytest.importorskip("mypy", reason="mypy is not installed here (make test-python installs it)")
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", *args],
                          capture_output=True, text=True)


def test_mypy_strict_passes_on_the_package() -> None:
    result = mypy("-p", "imconv")  # by name: the installed package, as users see it
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes_without_the_optional_httpx() -> None:
    # Third-party packages hidden, as where the `matrix` extra is not
    # installed (0.3.0 failed: "Cannot find ... module named httpx").
    result = mypy("--no-site-packages", str(ROOT / "bindings" / "python" / "imconv"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_flags_a_wrong_argument_in_user_code(tmp_path: Path) -> None:
    script = tmp_path / "app.py"
    script.write_text(
        "import imconv\n"
        "with imconv.Sdk('me') as sdk:\n"
        "    c = sdk.get_conversation('c2c_alice')\n"
        "    name: str = c.show_name\n"
        "    sdk.pin_conversation(42)\n")
    result = mypy(str(script))
    assert result.returncode == 1, result.stdout
    assert 'Argument 1 to "pin_conversation" of "Sdk" has incompatible type "int"' \
        in result.stdout, result.stdout
    assert result.stdout.count("error:") == 1, result.stdout


def test_every_public_name_has_a_docstring() -> None:
    missing = []
    for name in imconv.__all__:
        value = getattr(imconv, name)
        if not (inspect.isclass(value) or inspect.isfunction(value)):
            continue
        if not inspect.getdoc(value):
            missing.append(name)
        if inspect.isclass(value) and not issubclass(value, BaseException):
            for attr, member in vars(value).items():
                if not attr.startswith("_") and callable(member) and not member.__doc__:
                    missing.append(f"{name}.{attr}")
    assert missing == []


STRUCTS = {
    "imconv_message": _native.CMessage,
    "imconv_group_at_info": _native.CGroupAtInfo,
    "imconv_conversation": _native.CConversation,
    "imconv_listener": _native.CListener,
    "imconv_list_filter": _native.CListFilter,
}


def test_structures_match_the_header(tmp_path: Path) -> None:
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None or not (ROOT / "include" / "imconv.h").exists():
        pytest.skip("needs a C compiler and the source tree's include/imconv.h")
    lines = ['#include <stdio.h>', '#include <stddef.h>', '#include "imconv.h"', "int main(void) {"]
    for c_name, struct in STRUCTS.items():
        lines.append(f'printf("{c_name} size %zu\\n", sizeof({c_name}));')
        for field, _ in struct._fields_:
            lines.append(f'printf("{c_name} {field} %zu\\n", offsetof({c_name}, {field}));')
    lines.append("return 0; }")
    source = tmp_path / "layout.c"
    source.write_text("\n".join(lines))
    binary = tmp_path / "layout"
    subprocess.run([compiler, "-std=c11", "-I", str(ROOT / "include"), str(source), "-o",
                    str(binary)], check=True)
    from_c = subprocess.run([str(binary)], capture_output=True, text=True,
                            check=True).stdout.splitlines()
    from_python = []
    for c_name, struct in STRUCTS.items():
        from_python.append(f"{c_name} size {ctypes.sizeof(struct)}")
        for field, _ in struct._fields_:
            from_python.append(f"{c_name} {field} {getattr(struct, field).offset}")
    assert from_python == from_c
