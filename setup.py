"""Build the optional compiled accelerators (litmine/parse/_fastxml.pyx, litmine/_speedups.pyx).

Everything else about the package is in pyproject.toml. The extensions are
optional: without Cython or a C compiler the install still succeeds, and
litmine runs the pure-Python code they replace, which gives the same results
more slowly.
"""

import sys

from setuptools import Extension, setup

try:
    from Cython.Build import cythonize

    extensions = cythonize(
        [
            Extension("litmine.parse._fastxml", ["litmine/parse/_fastxml.pyx"], optional=True),
            Extension("litmine._speedups", ["litmine/_speedups.pyx"], optional=True),
        ],
        compiler_directives={"language_level": "3"},
        build_dir="build/cython",
        quiet=True,
    )
except Exception as exc:  # no Cython, or it failed: the pure-Python code is used
    print(f"litmine: building without the compiled accelerators ({exc})", file=sys.stderr)
    extensions = []

setup(ext_modules=extensions)
