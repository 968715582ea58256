"""Jupyter notebooks as submissions: turn a notebook's code cells into an importable Python module.

Students keep the functions to grade in a notebook together with magics, shell escapes, plots, comparison
cells that import torch, and training runs that take minutes. Grading must not run any of that, so the
notebook is converted, on the syntax tree, into Python source that the loader reads like any .py file and
that the sandbox imports from its temporary copy under a name no student file can take (`_nb_<stem>`).

Modes (assignment option `notebook_mode`, CLI `--notebook-mode`):

- `defs` (default): keep top-level imports, function and class definitions, and assignments whose value is
  a literal or is built only from names already kept (`EPS = np.finfo(float).eps`); an assignment that
  calls something is kept inside `try: ... / except Exception: pass`, so a data file missing on the
  grader's machine cannot stop the notebook from loading. Everything else is dropped: expressions, loops,
  `with` blocks, assignments that call functions the notebook defines (experiments), magics (`%matplotlib`,
  `%%time` cells), shell escapes (`!pip install`), and imports of modules that are not installed here.
- `tagged`: only the code cells carrying the tag (option `notebook_tag`, default `grade`), whole.
- `all`: every code cell in order, as a script, with magics and shell escapes removed.

In a NumPy assignment (unless the option `allow_torch = true`), a top-level torch import is dropped with
a note in `defs` and `tagged` mode; a graded function that then needs torch fails with a message that
names the policy. `all` mode runs the cells as written.

Every line of the converted source maps back to (cell position among all cells, cell id, line in the
cell), so locations and errors point at cells. Outputs and attachments are never read.

The package, by job: `cells` reads a notebook's cells and strips IPython magics; `convert` turns cells
into module source (the modes above); `read` is the loader's reader for .ipynb files; `errors` rewrites
the sandbox's errors so they point at cells.
"""
from .cells import PYTHON_CELL_MAGICS, Cell, read_cells, strip_magics  # noqa: F401
from .convert import (DEFAULT_MODE, DEFAULT_TAG, MODES, TORCH_POLICY, Conversion, Converter, Dropped,  # noqa: F401
                      NotebookOptions, bound_names)
from .errors import ErrorMapper, MappedSandbox, map_errors  # noqa: F401
from .read import MAX_NOTEBOOK_BYTES, NotebookFile, read_notebook  # noqa: F401
