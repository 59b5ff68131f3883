"""Old import paths of modules split into packages (issue 13): patches reach the code.

A module that became a package (``litmine.entities``, ``litmine.ner.train``,
``litmine.ner.transformer``) re-exports every name it had from the submodules
that now define them. A plain re-export would let
``monkeypatch.setattr(litmine.entities, "load_pipeline", fake)`` rebind only the
package's name while the code keeps calling the submodules' own bindings.
:func:`forward_patches` makes the package pass such an assignment on to every
one of its submodules that holds the same object under that name, so a patch
on the old path reaches the running code as it did before the split (and
undoing the patch restores them all).

Only assignments are forwarded; deleting a name deletes it from the package
alone.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

__all__ = ["forward_patches"]

_MISSING = object()


class _ForwardingModule(ModuleType):
    """A package whose re-exported names, when reassigned, change in its submodules too."""

    def __setattr__(self, name: str, value: Any) -> None:
        current = self.__dict__.get(name, _MISSING)
        if current is not _MISSING and not name.startswith("__"):
            prefix = self.__name__ + "."
            for module_name, module in list(sys.modules.items()):
                if (
                    module_name.startswith(prefix)
                    and module is not None
                    and module.__dict__.get(name, _MISSING) is current
                ):
                    setattr(module, name, value)
        super().__setattr__(name, value)


def forward_patches(package: str) -> None:
    """Make assignments to the (already imported) ``package`` reach its submodules.

    Call it at the end of the package's ``__init__``, after the re-exports.

    Args:
        package: The package's ``__name__``.
    """
    sys.modules[package].__class__ = _ForwardingModule
