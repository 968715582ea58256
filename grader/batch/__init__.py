"""Instructor batch grading: a class graded in parallel (or on Dask), resumable, with a gradebook,
a class summary and LMS-ready files. `grade batch SUBMISSIONS_DIR --out OUT` runs `run_batch`.

| module | job |
| --- | --- |
| discover | the submissions in a folder, their bytes, safe zip unpacking |
| late | the late policy, submission times (Gradescope metadata, CSV), penalties |
| worker | grade one submission in a worker: plain data in, records and report texts out |
| pool / dask_runner | the executors: a local fork-server process pool, or a Dask cluster |
| runner | resume cache, atomic outputs, the run |
| gradebook | gradebook.csv, overrides, canvas.csv |
| summary, similarity | the class summary page and its fingerprints |
| progress | the progress bar |
"""
from .runner import BatchConfig, BatchRun, run_batch  # noqa: F401
