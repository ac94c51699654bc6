"""Builds the library with cargo and ships it inside the package, so that
`pip install ./bindings/python` from a clean clone needs nothing else.

The package is Python code over ctypes, so it works with any Python 3, but
the library inside it is built for one platform: the wheel is tagged
`py3-none-<platform>` (not "pure"), so an installer never puts a Linux
x86-64 library on another machine."""
import os
import shutil
import subprocess

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

try:  # setuptools 70.1 and later
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # older setuptools, with the wheel package
    from wheel.bdist_wheel import bdist_wheel

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def cargo_progress():
    """Where cargo's progress goes: pip captures a build backend's output
    (shown only with `pip install -v`), so it goes straight to the terminal
    when there is one: a source install takes minutes the first time."""
    try:
        return open("/dev/tty", "w")
    except OSError:
        return None


class BuildWithLibrary(build_py):
    def run(self):
        tty = cargo_progress()
        if tty is not None:
            tty.write("imconv: building the library with cargo (a few minutes the first time)\n")
            tty.flush()
        try:
            subprocess.check_call(["cargo", "build", "--release", "--lib"], cwd=ROOT,
                                  stderr=tty or None)
        finally:
            if tty is not None:
                tty.close()
        shipped = os.path.join(HERE, "imconv", "libimconv.so")
        shutil.copy(os.path.join(ROOT, "target", "release", "libimconv.so"), shipped)
        # The debug info is 7/8 of the file; the installed package does not need it.
        if shutil.which("strip"):
            subprocess.check_call(["strip", "--strip-unneeded", shipped])
        super().run()


class PlatformWheel(bdist_wheel):
    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        _, _, platform = super().get_tag()
        return "py3", "none", platform


class BinaryDistribution(Distribution):
    """Carries a native library: installed into platlib, which auditwheel
    requires to repair the wheel."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithLibrary, "bdist_wheel": PlatformWheel},
      distclass=BinaryDistribution)
