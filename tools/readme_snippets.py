#!/usr/bin/env python3
"""Compiles and runs the code blocks of the documents as they are written.

A block is tested when the line before its fence is a marker:

    <!-- snippet: app.c -->
    <!-- snippet: glib.c harness=glib expect="..." -->

The name's extension says what it is: `.c` and `.cpp` are compiled against
the build tree's library (`-Wall -Wextra -Werror`) and run when they have
a `main`; `.py` runs with the package from `bindings/python`; `.sh` runs
with bash against an installed copy (`make install` into a temporary
prefix, found through pkg-config; `needs=go` when it runs Go;
`needs=synapse` for a block that talks to a live Matrix homeserver, run
only by `make test-matrix`, which passes `--needs synapse` and the server
in MATRIX_HOMESERVER, MATRIX_USER, MATRIX_PASSWORD). `expect` is
text the program must print. `harness=glib` compiles the block as C and
as C++ inside a program that runs a GLib main loop until a write's
callback arrives. Blocks of one document run in order in one scratch
folder (a `.sh` block finds the files written before it; `build=later` marks a
file that only such a block builds), which is removed afterwards. Tools that are missing (GLib's headers, Go) are installed from
Debian's packages when possible; when not, the block is skipped with a
line that says so.

usage: readme_snippets.py [--needs WHAT] ROOT DOCUMENT...
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

MARKER = re.compile(r"<!-- snippet: (\S+)((?: [a-z]+=(?:\"[^\"]*\"|\S+))*) -->")
OPTION = re.compile(r'([a-z]+)=("[^"]*"|\S+)')

GLIB_MAIN = r"""
static GMainLoop *loop;
static void on_written(void *user_data) { (void)user_data; g_main_loop_quit(loop); }
static void on_failed(int32_t code, const char *desc, void *user_data) {
    (void)user_data;
    fprintf(stderr, "error %d: %s\n", code, desc);
    g_main_loop_quit(loop);
}
int main(void) {
    imconv_sdk *sdk = NULL;
    if (imconv_sdk_new("{\"user_id\":\"me\",\"delivery\":\"host\"}", &sdk, NULL) != IMCONV_OK) return 1;
    loop = g_main_loop_new(NULL, FALSE);
    guint source = attach_imconv(sdk);
    imconv_import_conversations(sdk, "[{\"conversationID\":\"c2c_alice\"}]", on_written, on_failed, NULL);
    g_main_loop_run(loop); /* returns when the callback ran, inside a dispatch */
    g_source_remove(source);
    g_main_loop_unref(loop);
    imconv_sdk_free(sdk);
    printf("glib: the callback ran on the main loop\n");
    return 0;
}
"""


def blocks(path):
    """(name, options, code) of every marked block, in order."""
    lines = open(path, encoding="utf-8").read().split("\n")
    for i, line in enumerate(lines):
        m = MARKER.fullmatch(line.strip())
        if not m:
            continue
        if not lines[i + 1].startswith("```"):
            sys.exit(f"{path}:{i + 1}: a snippet marker must be followed by a fenced block")
        end = lines.index("```", i + 2)
        options = {k: v.strip('"') for k, v in OPTION.findall(m.group(2))}
        yield m.group(1), options, "\n".join(lines[i + 2:end]) + "\n", i + 1


def run(cmd, cwd, env=None, expect=None, label=""):
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        sys.exit(f"{label}: {' '.join(map(shlex.quote, cmd))} failed ({result.returncode}):\n"
                 f"{result.stdout[-2000:]}{result.stderr[-3000:]}")
    if expect is not None and expect not in result.stdout:
        sys.exit(f"{label}: the output lacks {expect!r}:\n{result.stdout[-2000:]}")
    return result.stdout


def have_or_install(probe, package):
    """True when `probe` (a command) succeeds, after installing `package`
    from Debian's packages if it did not."""
    def ok():
        return subprocess.run(probe, capture_output=True).returncode == 0 if shutil.which(probe[0]) else False
    if ok():
        return True
    if shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", package], capture_output=True)
        if not ok():
            subprocess.run(["apt-get", "update", "-q"], capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-q", package], capture_output=True)
    return ok()


class Runner:
    def __init__(self, root, scratch):
        self.root, self.scratch = root, scratch
        self.lib = os.path.join(root, "target", "release")
        self.build_tree = ["-I" + os.path.join(root, "include"), "-L" + self.lib, "-limconv",
                           "-Wl,-rpath," + self.lib, "-lpthread"]
        self.prefix = None
        self.tested = self.skipped = 0

    def env(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.path.join(self.root, "bindings", "python")
        env["IMCONV_LIBRARY"] = os.path.join(self.lib, "libimconv.so")
        if self.prefix:
            env["PKG_CONFIG_PATH"] = os.path.join(self.prefix, "lib", "pkgconfig")
        return env

    def installed(self):
        if self.prefix is None:
            self.prefix = os.path.join(self.scratch, "prefix")
            run(["make", "-s", "-C", self.root, "install", "PREFIX=" + self.prefix], self.root,
                label="make install")
        return self.prefix

    def skip(self, label, why):
        print(f"SKIP {label}: {why}")
        self.skipped += 1

    def test(self, doc, name, options, code, line, work):
        label = f"{os.path.relpath(doc, self.root)}:{line} {name}"
        expect = options.get("expect")
        path = os.path.join(work, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(code)
        ext = os.path.splitext(name)[1]
        warn = ["-Wall", "-Wextra", "-Werror"]
        if options.get("build") == "later":
            return  # a file of a program that a later `.sh` block builds
        if options.get("harness") == "glib":
            if not have_or_install(["pkg-config", "--exists", "glib-2.0"], "libglib2.0-dev"):
                return self.skip(label, "GLib's headers (libglib2.0-dev) are missing and could not be installed")
            flags = subprocess.run(["pkg-config", "--cflags", "--libs", "glib-2.0"], capture_output=True,
                                   text=True, check=True).stdout.split()
            program = os.path.join(work, "glib_program.c")
            with open(program, "w") as f:
                # The block brings its own includes (imconv.h among them):
                # it must compile as pasted.
                f.write('#include <stdio.h>\n' + code + GLIB_MAIN)
            for compiler, extra in (("cc", ["-std=c11"]), ("c++", ["-x", "c++", "-std=c++17"])):
                out = os.path.join(work, "glib_" + compiler.replace("+", "x"))
                run([compiler, *extra, *warn, program, "-o", out, *self.build_tree, *flags], work, label=label)
                run([out], work, self.env(), "glib: the callback ran", label=f"{label} ({compiler})")
        elif ext in (".c", ".cpp"):
            compiler = ["cc", "-std=gnu11"] if ext == ".c" else ["c++", "-std=c++17", "-Wpedantic"]
            out = os.path.join(work, os.path.splitext(name)[0] + "_" + ext[1:])
            run([*compiler, *warn, path, "-o", out, *self.build_tree], work, label=label)
            if re.search(r"\bint main\(", code):
                run([out], work, self.env(), expect, label)
        elif ext == ".py":
            run([sys.executable, path], work, self.env(), expect, label)
        elif ext == ".sh":
            self.installed()
            run(["bash", "-e", path], work, self.env(), expect, label)
        else:
            sys.exit(f"{label}: no rule for {ext} snippets")
        print(f"ok   {label}")
        self.tested += 1


def main():
    args = sys.argv[1:]
    only = None
    if args[:1] == ["--needs"]:
        only, args = args[1], args[2:]
    root = os.path.abspath(args[0])
    scratch = tempfile.mkdtemp(prefix="imconv-snippets-")
    try:
        runner = Runner(root, scratch)
        marked = 0  # a chapter may hold no code; all of them none is a mistake
        for doc in args[1:]:
            doc = os.path.join(root, doc)
            work = tempfile.mkdtemp(dir=scratch)
            found = list(blocks(doc))
            marked += len(found)
            needs_go = only is None and any(o.get("needs") == "go" for _, o, _, _ in found)
            go_ok = not needs_go or have_or_install(["go", "version"], "golang-go")
            for name, options, code, line in found:
                if only is not None and options.get("needs") != only:
                    continue
                if options.get("needs") == "synapse" and only != "synapse":
                    runner.skip(f"{doc}:{line} {name}", "needs a live homeserver: make test-matrix runs it")
                    continue
                if options.get("needs") == "go" and not go_ok:
                    runner.skip(f"{doc}:{line} {name}", "Go (golang-go) is missing and could not be installed")
                    continue
                runner.test(doc, name, options, code, line, work)
        if not marked:
            sys.exit("no snippet markers in " + ", ".join(args[1:]))
        print(f"readme snippets: {runner.tested} ran, {runner.skipped} skipped")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
