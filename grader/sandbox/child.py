"""The student's process: imports their modules and answers the grader's requests over two pipes.

Started by session.py as ``python -s -B [-P] child.py '<json config>'`` with cwd = a temporary copy of the
submission, stdout/stderr on a capture pipe, and the request/response pipe fds passed in the config; or, in
a batch worker, forked from ``child.py --zygote`` into that same state (launch.py says how).
Stdlib + NumPy only, and never the `grader` package: wire.py, limits.py and heap.py are loaded by file path under
private names, so a student file called wire.py cannot interfere and start-up stays at python + numpy.

Before NumPy or any student code loads, the child confines itself (isolation.py: cgroups, namespaces,
hidden files, an unprivileged uid, no new privileges, death with the grader) and installs the framework
import hook (grader/policy.py says why): student code starts in a process that can no longer undo either.

Every request gets exactly one reply. Whatever the student's code raises (even SystemExit, MemoryError or
KeyboardInterrupt) becomes an error reply; only os._exit, a signal or a hang ends the exchange, and the
parent notices those itself.
"""
import importlib
import importlib.machinery
import importlib.util
import json
import os
import stat
import sys
import time
import traceback
import types

HERE = os.path.dirname(os.path.abspath(__file__))
THIS_FILE = os.path.realpath(os.path.abspath(__file__))
PKG = "submission"  # synthetic package: student modules are submission.<name>
MAX_FRAMES = 8
MAX_TRACEBACK_CHARS = 4000
MAX_MESSAGE_CHARS = 2000
MAX_REQUEST_BYTES = 64 << 20  # a zygote request (config, folder, environment): a few kB in practice


def _load(name, filename, code=None):
    """Import one of the grader's files under a private name; `code`: its source, read earlier."""
    path = os.path.join(HERE, filename)
    module = types.ModuleType(name)
    module.__file__ = path
    sys.modules[name] = module  # dataclasses look their module up in sys.modules
    if code is None:
        with open(path, "rb") as f:
            code = f.read()
    exec(compile(code, path, "exec"), module.__dict__)
    return module


class _StaleHandle(Exception):
    pass


class _FrameworkBlocker:
    """Refuse to import the frameworks the grader's policy names (torch, jax, tensorflow, ...).

    An attempt made by the student's own code is noted and reported with the next reply; a library that
    merely probes for an optional framework (`try: import torch`) just gets the ImportError. Removing this
    hook does not help a student: the grader also looks for the frameworks' libraries from outside.
    """

    def __init__(self, names, standin=None):
        self.names, self.attempts = frozenset(names), []
        self.standin = standin  # frameworks whose import gives the student an inert stand-in (standin.py)
        import sysconfig
        paths = sysconfig.get_paths()
        self.library_dirs = tuple({os.path.realpath(paths[k]) + os.sep for k in ("stdlib", "platstdlib", "purelib",
                                                                                   "platlib") if paths.get(k)})

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.partition(".")[0]
        if top not in self.names:
            return None
        student = self._from_student()
        caller = sys._getframe(2).f_code  # importlib.util.find_spec: a library asking whether it is installed
        if not student and caller.co_name == "find_spec" and caller.co_filename.endswith(("util.py", "util>")):
            return None  # the answer, not the module: importing it still comes back here and is refused
        if self.standin is not None and self.standin.wants(fullname) and (student or fullname in sys.modules
                                                                          or top in sys.modules):
            return self.standin.spec(fullname)
        if student and top not in self.attempts:
            self.attempts.append(top)
        raise ModuleNotFoundError(f"importing {top} is not allowed: this is a NumPy exercise", name=fullname)

    def _from_student(self):
        frame = sys._getframe(2)
        while frame is not None:
            name = frame.f_code.co_filename
            if not (name.startswith("<frozen importlib") or os.path.basename(os.path.dirname(name)) == "importlib"):
                return not os.path.realpath(name).startswith(self.library_dirs)  # student code, exec'd text...
            frame = frame.f_back
        return True

    def take(self):
        attempts, self.attempts = self.attempts, []
        return attempts


class _AliasFinder:
    """Make top-level `import layers` return the very module `submission.layers`.

    Without it `from layers import Linear` (sibling style) and `from .layers import Linear` (package style)
    would load two copies of layers.py, with separate globals and classes that fail isinstance checks.
    The import system lets exec_module replace the sys.modules entry, which is all an alias needs.
    """

    def __init__(self, names):
        self.names = names

    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] in self.names:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        sys.modules[module.__name__] = importlib.import_module(PKG + "." + module.__name__)


def install_package(root):
    pkg = types.ModuleType(PKG)
    spec = importlib.machinery.ModuleSpec(PKG, None, is_package=True)
    spec.submodule_search_locations = [root]
    pkg.__spec__, pkg.__path__, pkg.__package__ = spec, [root], PKG
    sys.modules[PKG] = pkg
    sys.path.insert(0, root)
    names = set()
    for entry in os.listdir(root):
        stem = entry[:-3] if entry.endswith(".py") else entry
        is_dir = os.path.isdir(os.path.join(root, entry))
        if stem.isidentifier() and stem != PKG and (entry.endswith(".py") or is_dir):
            names.add(stem)
    sys.meta_path.insert(0, _AliasFinder(names))


def _safe_str(obj, limit=MAX_MESSAGE_CHARS):
    try:  # str() of a student exception runs student code
        text = str(obj)
    except BaseException:  # noqa: BLE001
        text = "<message unavailable>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Child:
    def __init__(self, cfg, wire, np, blocker=None, heap=None, adapter=None):
        self.wire, self.np, self.blocker, self.heap = wire, np, blocker, heap
        self.standin = blocker.standin if blocker is not None else None
        self.adapter = adapter  # torch_ops.py: the grader's side of a PyTorch exercise, run beside the student's
        self.heap_policy = None  # set by the first repeated call (timing): see heap.py
        self.req, self.resp = cfg["req"], cfg["resp"]
        self.root = os.path.realpath(cfg["root"])
        sys.path[:0] = [os.path.join(self.root, p) for p in cfg.get("path", [])]  # nested folders, after the root
        self.limits = wire.WireLimits(**cfg.get("wire", {}))
        self.objects = {}  # handle -> kept object
        self.ids = {}  # id(kept object) -> handle; objects stay alive in self.objects, so ids are stable
        self.next_handle = int(cfg.get("first_handle", 1))  # unique across restarts: stale ones never match
        self.modules = {}  # name -> module, in import order
        install_package(self.root)

    # ------------------------------------------------------------------ plumbing

    def resolve(self, handle):
        if handle not in self.objects:
            raise _StaleHandle(handle)
        return self.objects[handle]

    def keep(self, obj):
        handle = self.ids.get(id(obj))
        if handle is None:
            handle, self.next_handle = self.next_handle, self.next_handle + 1
            self.objects[handle], self.ids[id(obj)] = obj, handle
        return handle

    def send(self, header, values=None):
        try:
            buffers = self.wire.encode(header, values, limits=self.limits, ref_of=lambda o: self.ids.get(id(o)))
        except BaseException as e:  # noqa: BLE001 - too large, or a student __int__/__len__ raised
            error = {"type": "TransferError", "category": "transfer", "message": _safe_str(e, 500)}
            buffers = self.wire.encode({"ok": False, "error": error, "seq": header.get("seq")}, limits=self.limits)
        try:
            self.wire.write_buffers(self.resp, buffers)
        except OSError:  # the parent is gone (or the student closed our fd): nothing left to do
            os._exit(0)

    def error(self, e):
        tb = e.__traceback__
        try:
            frames = [f for f in traceback.extract_tb(tb) if os.path.realpath(f.filename) != THIS_FILE]
        except BaseException:  # noqa: BLE001 - e.g. MemoryError while memory is still full
            frames = []
        traceback.clear_frames(tb)  # release the frames' locals (a MemoryError's huge list) now
        e.__traceback__ = None
        file = line = None
        places = [(f.filename, f.lineno) for f in frames]
        if isinstance(e, SyntaxError):  # raised by the compiler: the student's file is not in the frames
            places.append((e.filename or "", e.lineno))
        for filename, lineno in reversed(places):  # innermost place inside the submission
            path = os.path.realpath(filename)
            if path.startswith(self.root + os.sep):
                file, line = os.path.relpath(path, self.root), lineno
                break
        base = next(t for t in type(e).__mro__ if not t.__name__.startswith("_"))  # numpy's _ArrayMemoryError
        message = _safe_str(e)
        category = "exception"
        if isinstance(e, MemoryError):
            category = "memory"
        elif isinstance(e, SystemExit):
            category, message = "exit", f"sys.exit({_safe_str(repr(e.code), 200)}) was called"
        elif isinstance(e, KeyboardInterrupt):
            message = ""
        try:
            text = "".join(traceback.format_list(frames[-MAX_FRAMES:]))
        except BaseException:  # noqa: BLE001
            text = ""
        text = (text + base.__name__ + (f": {message}" if message else "")).replace(self.root + os.sep, "")
        if len(text) > MAX_TRACEBACK_CHARS:
            text = "..." + text[-MAX_TRACEBACK_CHARS:]
        return {"ok": False, "error": {"type": base.__name__, "message": message, "category": category,
                                       "traceback": text, "file": file, "line": line}}, None

    def lookup(self, header):
        """The object named by header: a kept object's attribute, or a name in the student's modules."""
        obj, module, target = header.get("obj"), header.get("module"), header.get("target")
        if obj is not None:
            base = self.resolve(obj)
        elif module:
            base = self.modules.get(module) or sys.modules.get(PKG + "." + module)
            if base is None:
                raise ImportError(f"module {module} was not imported")
        else:  # look through every imported module, first import first
            for base in self.modules.values():
                if hasattr(base, target.partition(".")[0]):
                    break
            else:
                raise NameError(f"name {target!r} is not defined in the submission")
        if target is None:
            return base
        for part in target.split("."):
            base = getattr(base, part)
        return base

    def flush_output(self):
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:  # the reply must not overtake what was printed before it (the parent reads both in order)
                stream.flush()
            except BaseException:  # noqa: BLE001
                pass

    # ------------------------------------------------------------------ ops

    def op_ping(self, header, values):
        return {"ok": True, "pid": os.getpid()}, None

    def op_import(self, header, values):
        name = header["module"]
        try:
            self.modules[name] = importlib.import_module(PKG + "." + name)
        except BaseException as e:  # noqa: BLE001 - SystemExit at import included
            return self.error(e)
        return {"ok": True}, None

    def op_call(self, header, values):
        args, kwargs = list(values.get("args") or []), dict(values.get("kwargs") or {})
        # repeat=n (timing): call n times with the same arguments and report each call's duration.
        repeat = header.get("repeat")
        repeat = max(1, min(repeat, 100_000)) if type(repeat) is int else None
        # each (training): call once per argument list, in order; a failure says which call it was.
        each = values.get("each") if header.get("each") else None
        times = []
        if each is not None:
            return self.call_each(header, each, kwargs)
        try:
            action = header.get("adapter")
            if action is not None:  # a grader action (torch_ops.py) applied to the student's object
                if self.adapter is None or action not in self.adapter.ACTIONS:
                    raise ValueError(f"no grader action {action!r} in this process")
                student = None if header.get("target") is None and header.get("obj") is None else self.lookup(header)
                target = self.adapter.bind(action, student)
            else:
                target = self.lookup(header)
            if repeat is None:
                result = target(*args, **kwargs)
            else:
                if self.heap_policy is None and self.heap is not None:
                    self.heap_policy = self.heap.keep_freed_memory()
                clock = time.perf_counter
                for _ in range(repeat):
                    t0 = clock()
                    result = target(*args, **kwargs)
                    times.append(clock() - t0)
        except _StaleHandle:
            raise
        except BaseException as e:  # noqa: BLE001
            return self.error(e)
        reply, out = {"ok": True}, {"value": result}
        if repeat is not None:
            reply["times"], reply["heap"] = times, self.heap_policy
        if header.get("keep"):
            t = type(result)
            reply.update(handle=self.keep(result), handle_type=f"{t.__module__}.{t.__qualname__}")
        if header.get("return_args", True):
            out.update(args_after=args, kwargs_after=kwargs)
        return self.read_after(header, reply, out)

    def call_each(self, header, each, kwargs):
        """One call per argument list, in order: the last result, or with collect every result; a
        failure says which call raised ("at") and, with collect, gives the results before it."""
        at, results = 0, []
        try:
            target = self.lookup(header)
            for at, args in enumerate(each):
                results.append(target(*list(args), **kwargs))
        except _StaleHandle:
            raise
        except BaseException as e:  # noqa: BLE001
            reply, out = self.error(e)
            reply["at"] = at
            if header.get("collect"):
                out = {"value": results}
            return reply, out
        value = results if header.get("collect") else (results[-1] if results else None)
        return self.read_after(header, {"ok": True}, {"value": value})

    def read_after(self, header, reply, out):
        """read_after=[names]: the called object's attributes after a successful call, as op_getattr reads
        them (saves a round trip per training step)."""
        names = header.get("read_after")
        if names:
            found_reply, found = self.op_getattr({"obj": header.get("obj"), "names": names}, {})
            reply["missing"], out["attrs"] = found_reply["missing"], found["attrs"]
        return reply, out

    def op_describe(self, header, values):
        """What a name is: callable?, its parameters, and whether it accepts n_args positional arguments."""
        try:
            target = self.lookup(header)
        except _StaleHandle:
            raise
        except BaseException as e:  # noqa: BLE001 - a missing name, or a module __getattr__ that raised
            return self.error(e)
        import inspect  # only here: it would add to every start-up

        t = type(target)
        info = {"callable": callable(target), "type": f"{t.__module__}.{t.__qualname__}",
                "kind": "class" if inspect.isclass(target) else "function" if inspect.isroutine(target) else "other",
                "params": None, "accepts": None}
        if info["callable"]:
            try:
                sig = inspect.signature(target)
                info["params"] = [str(p) for p in sig.parameters.values()]
                if header.get("n_args") is not None:
                    try:
                        sig.bind(*range(int(header["n_args"])))
                        info["accepts"] = True
                    except TypeError:
                        info["accepts"] = False
            except BaseException:  # noqa: BLE001 - builtins without a signature, odd __signature__
                pass
        return {"ok": True}, {"info": info}

    def op_getattr(self, header, values):
        found, missing = {}, {}
        for name in header.get("names", []):
            try:
                found[name] = self.lookup({**header, "target": name})
            except _StaleHandle:
                raise
            except BaseException as e:  # noqa: BLE001 - properties run student code
                missing[name] = {"type": type(e).__name__, "message": _safe_str(e, 500)}
        return {"ok": True, "missing": missing}, {"attrs": found}

    def op_setattr(self, header, values):
        try:
            for name, v in (values.get("values") or {}).items():
                head, _, last = name.rpartition(".")
                if head:
                    owner = self.lookup({**header, "target": head})
                elif header.get("obj") is not None or header.get("module"):
                    owner = self.lookup({**header, "target": None})
                else:  # a module-level name: set it where it is defined
                    owner = next((m for m in self.modules.values() if hasattr(m, last)), None)
                    if owner is None:
                        raise NameError(f"name {last!r} is not defined in the submission")
                setattr(owner, last, v)
        except _StaleHandle:
            raise
        except BaseException as e:  # noqa: BLE001
            return self.error(e)
        return {"ok": True}, None

    def op_files(self, header, values):
        """File operations a check needs inside the working folder, done here as the sandbox's user (the
        grader never opens a path in it). Each action gives a bool, or for "read" the bytes as a uint8 array
        (None if it is not a regular file): ["remove", p], ["is_file", p], ["copy", src, dst], ["read", p]."""
        results = []
        try:
            for action in header.get("actions") or []:
                name, paths = action[0], [self.inside(p) for p in action[1:]]
                results.append(getattr(self, "file_" + name)(*paths))
        except _StaleHandle:
            raise
        except BaseException as e:  # noqa: BLE001 - a student's file system trick
            return self.error(e)
        return {"ok": True}, {"results": results}

    def inside(self, rel):
        if not isinstance(rel, str) or os.path.isabs(rel) or ".." in rel.replace("\\", "/").split("/"):
            raise ValueError(f"{rel!r} is not a path inside the working folder")
        return os.path.join(self.root, rel)

    def file_remove(self, path):
        try:
            os.unlink(path)
            return True
        except FileNotFoundError:
            return False

    def file_is_file(self, path):
        return os.path.isfile(path)

    def _open_regular(self, path):
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a FIFO must not block the open
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # nor a device be read forever
            os.close(fd)
            return None
        return fd

    def file_copy(self, src, dst):
        fd = self._open_regular(src)
        if fd is None:
            return False
        try:
            self.file_remove(dst)
            out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            try:
                while True:
                    chunk = os.read(fd, 1 << 20)
                    if not chunk:
                        return True
                    os.write(out, chunk)
            finally:
                os.close(out)
        finally:
            os.close(fd)

    def file_read(self, path):
        fd = self._open_regular(path)
        if fd is None:
            return None
        try:
            chunks = []
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    return self.np.frombuffer(b"".join(chunks), dtype=self.np.uint8)
                chunks.append(chunk)
        finally:
            os.close(fd)

    def op_drop(self, header, values):
        for handle in header.get("ids", []):
            if handle in self.objects:
                del self.ids[id(self.objects.pop(handle))]
        return {"ok": True}, None

    def op_exit(self, header, values):
        return {"ok": True}, None

    def serve(self, hello):
        self.send({"ok": True, **hello})
        while True:
            header = {}
            try:
                stale = []  # handles in the arguments that are not alive: noted, so the reply keeps its seq
                header, values = self.wire.read_message(
                    self.req, self.limits, ref=lambda h: self.objects[h] if h in self.objects else stale.append(h))
                if stale:
                    raise _StaleHandle(stale[0])
                op = getattr(self, "op_" + str(header.get("op")), None)
                if self.standin is not None:  # import time is permissive; a call's use of torch is recorded
                    self.standin.active = header.get("op") != "import"
                if op is None:
                    reply, out = {"ok": False, "error": {"type": "ProtocolError", "category": "exception",
                                                         "message": f"unknown op {header.get('op')!r}"}}, None
                else:
                    reply, out = op(header, values)
            except self.wire.EndOfStream:
                os._exit(0)
            except _StaleHandle as e:
                reply, out = {"ok": False, "error": {
                    "type": "StaleHandle", "category": "stale",
                    "message": f"object handle {e.args[0]} is not alive in this process"}}, None
            except self.wire.ProtocolError:
                os._exit(70)  # the stream is out of step with the parent: only a restart helps
            except Exception as e:  # noqa: BLE001 - a bad request must not end the process
                reply, out = self.error(e)
            reply["seq"] = header.get("seq")  # lets the parent spot a reply that is not the one it awaits
            if self.blocker is not None and self.blocker.attempts:  # self-reported: it can only cost points
                reply["policy"] = self.blocker.take()
            if self.standin is not None and self.standin.uses:
                reply["policy_use"] = self.standin.take()
            self.flush_output()
            self.send(reply, out)
            if header.get("op") == "exit":
                os._exit(0)


def _prepare(standin=True, adapter=True):
    """The grader's helper files, loaded (or read) while the grader's folders are still visible."""
    ready = types.SimpleNamespace(wire=None, wire_code=None, standin=None, adapter_code=None)
    ready.isolation, ready.limits = _load("_grader_isolation", "isolation.py"), _load("_grader_limits", "limits.py")
    ready.heap = _load("_grader_heap", "heap.py")
    with open(os.path.join(HERE, "wire.py"), "rb") as f:  # read before confine() may hide the grader's folders,
        ready.wire_code = f.read()  # run after the limits hold (it imports NumPy)
    if standin:
        ready.standin = _load("_grader_standin", "standin.py")
    if adapter:
        with open(os.path.join(HERE, "torch_ops.py"), "rb") as f:
            ready.adapter_code = f.read()
    return ready


def _run(cfg, ready):
    """Confine this process, then serve the grader until it says exit. Never returns."""
    confined = ready.isolation.confine(cfg.get("isolation") or {})
    applied = ready.limits.apply_rlimits(cfg.get("rlimits", {}))  # after the uid change: RLIMIT_NPROC binds then
    blocker = None
    if cfg.get("block"):
        blocker = _FrameworkBlocker(cfg["block"])
        if cfg.get("standin") and ready.standin is not None:
            blocker.standin = ready.standin.StandIn(cfg["standin"], blocker.library_dirs)
        sys.meta_path.insert(0, blocker)
    import faulthandler

    import numpy as np

    faulthandler.enable()  # a segfault prints the Python stack into the captured output
    np.seterr(all="ignore")  # overflow/NaN warnings would flood the output; the parent checks values
    wire = ready.wire or _load("_grader_wire", "wire.py", ready.wire_code)
    adapter = (_load("_grader_torch_ops", "torch_ops.py", ready.adapter_code)
               if cfg.get("adapter") and ready.adapter_code is not None else None)
    child = Child(cfg, wire, np, blocker, ready.heap, adapter)
    child.serve({"hello": True, "pid": os.getpid(), "rlimits": applied, "confined": confined,
                 "numpy": np.__version__, "python": sys.version.split()[0]})


# ---------------------------------------------------------------- the zygote (grader/sandbox/launch.py)
# A batch worker starts one of these per worker process. It imports NumPy and the modules the course's
# submissions import, and never runs student code: for each request it forks twice, so the student's
# process is re-parented to the worker (a child subreaper) and is the worker's own child from then on,
# exactly like one started with subprocess. The fork then does what a fresh child does, from confine() on.

def _read_exactly(sock, n, fds):
    """n bytes from the worker's socket, collecting the descriptors that come with them."""
    import socket

    data = b""
    while len(data) < n:
        chunk, got, _flags, _addr = socket.recv_fds(sock, min(n - len(data), 1 << 20), 4)
        fds.extend(got)
        if not chunk:
            raise EOFError
        data += chunk
    return data


def _student_process(request, fds, ready):
    """In the forked student process: become what a fresh `python child.py CFG` would be, then run."""
    req, resp, output = fds
    os.setsid()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(output, 1)
    os.dup2(output, 2)
    low = 3
    for fd in sorted({req, resp}):  # everything else goes, the worker's socket first of all
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))
    os.chdir(request["cwd"])
    os.environ.clear()  # also the C environment: os.environ calls unsetenv/putenv
    os.environ.update(request["env"])
    ready.isolation.set_dumpable(True)  # as after exec (the zygote is not dumpable)
    cfg = dict(request["cfg"], req=req, resp=resp)
    sys.argv = [THIS_FILE, json.dumps(cfg)]
    if "tempfile" in sys.modules:
        sys.modules["tempfile"].tempdir = None  # found again from TMPDIR
    import numpy as np
    np.random.seed()  # the legacy global generator: fresh entropy, not the zygote's state
    _run(cfg, ready)


def _zygote(options):
    import socket

    ready = _prepare()
    ready.isolation.set_dumpable(False)  # no process of the grader's user may read or trace it
    import numpy  # noqa: F401
    for name in options.get("preload", ()):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a preload is only a head start
            pass
    ready.wire = _load("_grader_wire", "wire.py", ready.wire_code)
    sock = socket.socket(fileno=int(options["socket"]))
    while True:
        fds = []
        try:
            size = int.from_bytes(_read_exactly(sock, 4, fds), "big")
            if size > MAX_REQUEST_BYTES:
                raise ValueError(size)
            request = json.loads(_read_exactly(sock, size, fds))
        except (EOFError, OSError, ValueError):
            os._exit(0)  # the worker is gone, or out of step with us
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            sock.sendall((0).to_bytes(4, "big"))
            continue
        pid_r, pid_w = os.pipe()
        middle = os.fork()
        if middle == 0:
            try:
                me = os.getpid()
                pid = os.fork()
                if pid == 0:
                    try:
                        os.close(pid_r)
                        os.close(pid_w)
                        while os.getppid() == me:  # until the middle process has exited
                            time.sleep(0.0002)
                        _student_process(request, fds, ready)
                    finally:
                        os._exit(70)
                os.write(pid_w, pid.to_bytes(4, "big"))
            finally:
                os._exit(0)
        for fd in (*fds, pid_w):
            os.close(fd)
        os.waitpid(middle, 0)
        data = os.read(pid_r, 4)
        os.close(pid_r)
        sock.sendall(data if len(data) == 4 else (0).to_bytes(4, "big"))


def main():
    if sys.path and os.path.realpath(sys.path[0] or os.getcwd()) == os.path.realpath(HERE):
        sys.path.pop(0)  # Python 3.10 has no -P: drop grader/sandbox/ so it cannot shadow student modules
    if sys.argv[1] == "--zygote":
        _zygote(json.loads(sys.argv[2]))
        return
    cfg = json.loads(sys.argv[1])
    _run(cfg, _prepare(standin=bool(cfg.get("standin")), adapter=bool(cfg.get("adapter"))))


if __name__ == "__main__":
    main()
