"""An inert stand-in for a framework (torch) in the child that grades NumPy exercises.

The course's bridge notebook keeps its NumPy class and its PyTorch class in one module that starts with
`import torch`. The NumPy exercises of such a submission are judged on whether their own code uses torch,
not on what the module imports: so in the NumPy child, `import torch` (and `import torch.nn as nn`,
`from torch.utils.data import DataLoader`...) gives this stand-in, never the real library, which stays
blocked (the import hook, the parent's maps check and the child's view all still hold).

While the module is imported the stand-in is permissive: `class Net(nn.Module)`, `torch.manual_seed(0)`,
`device = torch.device(...)` and `@torch.no_grad()` all work and do nothing. Once grading calls begin,
any touch of it by the student's code (an attribute, a call, a subclass instantiated) is use: it is
reported to the parent with the reply (the exercise scores 0 with a message) and raises, so the call fails.
Library code that merely probes for torch (`isinstance(x, torch.Tensor)`) is not the student's use: it
gets inert classes and is not reported.

Loaded by the child by file path (it must not import the grader). No state is trusted: whatever the student
does to this module only hides their own use from a second line of defence that does not rely on it.
"""
import importlib.machinery
import os
import sys
import types


class StandIn:
    """The finder, the record of use, and the switch between import time (permissive) and call time."""

    def __init__(self, names, library_dirs):
        self.names = frozenset(names)
        self.library_dirs = tuple(library_dirs)  # code under these is a library's, not the student's
        self.active = False  # True while graded calls run: any touch from student code is use
        self.uses = []

    # --------------------------------------------------------------- the record

    def touch(self, what):
        """Called on every use; raises (and records) when the student's code touches torch during a call."""
        if not self.active or not self._from_student():
            return
        top = what.partition(".")[0]
        if top not in self.uses:
            self.uses.append(top)
        raise RuntimeError(f"{what} is not available here: this is a NumPy exercise, graded in a process "
                           f"without {top}; write it with NumPy")

    def take(self):
        uses, self.uses = self.uses, []
        return uses

    def _from_student(self):
        """Whether the nearest caller outside this file and importlib is not a library (student code, exec'd
        text...)."""
        frame = sys._getframe(1)
        while frame is not None:
            name = frame.f_code.co_filename
            if name != __file__ and not (name.startswith("<frozen importlib")
                                         or os.path.basename(os.path.dirname(name)) == "importlib"):
                return not os.path.realpath(name).startswith(self.library_dirs)
            frame = frame.f_back
        return True

    # --------------------------------------------------------------- the modules

    def wants(self, fullname):
        return fullname.partition(".")[0] in self.names

    def module(self, fullname):
        module = sys.modules.get(fullname)
        if module is None:
            module = _InertModule(fullname, self)
            sys.modules[fullname] = module
        return module

    # importlib's loader interface, used by the child's import hook
    def spec(self, fullname):
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        return _InertModule(spec.name, self)

    def exec_module(self, module):
        return None


class _InertModule(types.ModuleType):
    def __init__(self, name, owner):
        super().__init__(name)
        self.__path__ = []  # a package: `import torch.nn.functional` goes back to the finder
        object.__setattr__(self, "_standin_owner", owner)

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        owner = object.__getattribute__(self, "_standin_owner")
        qualified = f"{self.__name__}.{name}"
        owner.touch(qualified)
        value = sys.modules.get(qualified) or _inert_class(qualified, owner)
        object.__setattr__(self, name, value)  # the same object every time: `nn.Module` is one class
        return value


class _InertMeta(type):
    """Metaclass of inert classes (`nn.Module`, `torch.Tensor`, `torch.relu`...): any attribute is another
    inert class; instantiating one (a subclass the student wrote included) is use at call time."""

    def __getattr__(cls, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        owner = type.__getattribute__(cls, "_standin_owner")
        qualified = f"{type.__getattribute__(cls, '_standin_name')}.{name}"
        owner.touch(qualified)
        return _inert_class(qualified, owner)

    def __call__(cls, *args, **kwargs):
        type.__getattribute__(cls, "_standin_owner").touch(type.__getattribute__(cls, "_standin_name") + "()")
        return super().__call__(*args, **kwargs)

    def __bool__(cls):
        return False

    def __iter__(cls):
        return iter(())


def _inert(self, *args, **kwargs):
    owner = type(self)._standin_owner
    owner.touch(type(self)._standin_name)
    return self


class _Inert(metaclass=_InertMeta):
    """An instance made at import time (`torch.device("cpu")`, `nn.Linear(4, 3)`): does nothing, is falsy."""

    _standin_owner = None
    _standin_name = "torch"

    def __init__(self, *args, **kwargs):
        pass

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        type(self)._standin_owner.touch(f"{type(self)._standin_name}.{name}")
        return _inert_class(f"{type(self)._standin_name}.{name}", type(self)._standin_owner)()

    __call__ = __enter__ = _inert
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _inert
    __matmul__ = __rmatmul__ = __neg__ = __abs__ = __pow__ = __getitem__ = _inert
    __lt__ = __le__ = __gt__ = __ge__ = _inert

    def __exit__(self, *exc):
        return False

    def __bool__(self):
        return False

    def __iter__(self):
        return iter(())

    def __len__(self):
        return 0

    def __format__(self, spec):
        return f"<{type(self)._standin_name}: not available in a NumPy exercise>"

    __str__ = __repr__ = lambda self: self.__format__("")


def _inert_class(name, owner):
    return _InertMeta(name.rpartition(".")[2] or name, (_Inert,),
                      {"_standin_owner": owner, "_standin_name": name, "__module__": name.rpartition(".")[0]})
