import importlib
import importlib.util
import sys
import types


class _ImportedOnFirstUse(types.ModuleType):
    """Stands in for a module until one of its names is read, then imports it and passes
    every read on to it (so a patch of the real module is seen through it too)."""

    def __getattr__(self, name: str) -> object:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), name)


def _import_on_first_use(name: str) -> None:
    if name in sys.modules:
        return
    stand_in = _ImportedOnFirstUse(name)
    stand_in.__spec__ = importlib.util.find_spec(name)  # where it is, found without loading
    sys.modules[name] = stand_in


# PuLP imports orloge at start-up, a reader of CBC, CPLEX and Gurobi logs, which imports a
# hundred modules of schemas: 60 ms of every `supplybid solve`, for a reader that a run with
# its output off never calls. It is imported on its first use instead.
_import_on_first_use("orloge")
