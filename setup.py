"""Build the optional compiled PubMed XML extractor (see litmine/parse/_fastxml.pyx).

Everything else about the package is in pyproject.toml. The extension is
optional: without Cython or a C compiler the install still succeeds and
litmine reads PubMed XML with its pure-Python extractor, which gives the same
records, more slowly.
"""

from setuptools import Extension, setup

try:
    from Cython.Build import cythonize
except ImportError:  # building without Cython: the pure-Python reader is used
    extensions = []
else:
    extensions = cythonize(
        [Extension("litmine.parse._fastxml", ["litmine/parse/_fastxml.pyx"], optional=True)],
        compiler_directives={"language_level": "3"},
        build_dir="build/cython",
        quiet=True,
    )

setup(ext_modules=extensions)
