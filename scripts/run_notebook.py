"""Run a notebook top to bottom with papermill, showing what its cells print and nothing else.

    python scripts/run_notebook.py IN.ipynb OUT.ipynb [-p NAME VALUE ...] [--cwd FOLDER] [--plain]

The same as `papermill IN OUT -p NAME VALUE`, but quiet: the kernel talks to this process over local
sockets (IPC) instead of TCP, so it does not warn about unencrypted TCP, and papermill's "Executing Cell"
markers are left out. A failed cell ends the run with one line naming it; OUT holds the whole traceback.
--plain leaves papermill's run records (timings, the parameters cell it injects) out of OUT, for the
notebook that is committed: its paired script then changes only where the notebook's code does.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

import papermill
from jupyter_client.manager import AsyncKernelManager
from papermill.cli import _resolve_type
from traitlets import default


class LocalSocketKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels listen on local (IPC) sockets only."""

    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"


class CellOutputOnly(logging.Filter):
    """Let through what the cells print, not papermill's markers around each cell."""

    def filter(self, record: logging.LogRecord) -> bool:
        markers = ("Executing Cell", "Ending Cell", "Executing notebook", "Input Notebook", "Output Notebook")
        return not record.getMessage().startswith(markers)


def plain(path: str) -> None:
    """Take papermill's records out of an executed notebook (rewritten in place, atomically)."""
    with open(path, encoding="utf-8") as file:
        notebook = json.load(file)
    notebook["metadata"].pop("papermill", None)
    cells = [
        cell for cell in notebook["cells"] if "injected-parameters" not in cell["metadata"].get("tags", [])
    ]
    for cell in cells:
        cell["metadata"].pop("papermill", None)
        cell["metadata"].pop("execution", None)
        if "tags" in cell["metadata"] and not cell["metadata"]["tags"]:
            del cell["metadata"]["tags"]
    notebook["cells"] = cells
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump(notebook, file, indent=1, ensure_ascii=False)
        file.write("\n")
    os.replace(temporary, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    parser.add_argument("--cwd", help="the folder the notebook runs in (default: here)")
    parser.add_argument("--plain", action="store_true", help="leave papermill's run records out of OUTPUT")
    args = parser.parse_args()

    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(CellOutputOnly())
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("papermill")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        papermill.execute_notebook(
            args.input,
            args.output,
            parameters={name: _resolve_type(value) for name, value in args.parameter},
            cwd=args.cwd,
            progress_bar=False,
            log_output=True,
            kernel_manager_class=LocalSocketKernelManager,
        )
    except papermill.PapermillExecutionError as error:
        print(
            f"run_notebook: cell {error.exec_count} failed: {error.ename}: {error.evalue} (see {args.output})"
        )
        return 1
    if args.plain:
        plain(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
