"""Started with every Python process whose PYTHONPATH holds this folder (the pytest plugin
``no_network`` puts it there, so Jupyter kernels, nbgrader and any other subprocess of the tests get it):
when ``HARMONIA_NO_NETWORK=1``, install the network guard of ``netguard.py``.

A ``sitecustomize`` module further along ``sys.path`` (the interpreter's own, if it has one) is shadowed
by this file, so it is loaded here too."""

import os
import sys

if os.environ.get("HARMONIA_NO_NETWORK") == "1":
    try:
        import netguard

        netguard.install()
    except Exception as err:  # never break interpreter start-up; say why the guard is missing
        print(f"harmonia no-network guard not installed: {err!r}", file=sys.stderr)


def _load_shadowed() -> None:
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.origin and os.path.abspath(spec.origin) != os.path.abspath(__file__):
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


_load_shadowed()
