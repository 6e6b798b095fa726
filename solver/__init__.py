import importlib
import sys
import types


class _ImportedOnFirstUse(types.ModuleType):
    """Stands in for a module until one of its names is read, then imports it for real."""

    def __getattr__(self, name: str) -> object:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        module = importlib.import_module(self.__name__)
        self.__dict__.update(module.__dict__)  # later reads find the names here directly
        return getattr(module, name)


# PuLP imports orloge at start-up, a reader of CBC, CPLEX and Gurobi logs, which imports a
# hundred modules of schemas: 60 ms of every `supplybid solve`, for a reader that a run with
# its output off never calls. It is imported on its first use instead.
if "orloge" not in sys.modules:
    sys.modules["orloge"] = _ImportedOnFirstUse("orloge")
