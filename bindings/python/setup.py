"""Builds the library with cargo and ships it inside the package, so that
`pip install ./bindings/python` from a clean clone needs nothing else."""
import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


class BuildWithLibrary(build_py):
    def run(self):
        subprocess.check_call(["cargo", "build", "--release", "--lib"], cwd=ROOT)
        shutil.copy(os.path.join(ROOT, "target", "release", "libimconv.so"),
                    os.path.join(HERE, "imconv", "libimconv.so"))
        super().run()


setup(cmdclass={"build_py": BuildWithLibrary})
