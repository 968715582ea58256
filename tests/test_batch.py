"""Batch grading: a mixed class graded in one batch, resumed, rerun, overridden, penalised for late
work, and graded again on Dask, with verdicts equal to grading each submission alone."""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from helpers import SOLUTION, make_submission

from grader.assignment import load_assignment
from grader.batch import BatchConfig, run_batch
from grader.batch import gradebook, late, similarity
from grader.batch.discover import PayloadError, discover, unpack_zip
from grader.batch.progress import Progress
from grader.batch.runner import RECORD, RESULT, assignment_bundle
from grader.results import GradeResult
from grader.seeds import Seed

# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = pytest.mark.slow

SEED = Seed(777, "private")
ASSIGNMENT = """
title = "Batch test"
exercises = ["layers", "network"]
practice_seed = 1

[limits]
cpu_s_per_call = 2
wall_s_per_call = 6
import_cpu_s = 3
total_cpu_s = 30

[late]
due = 2024-10-01T23:59:00+00:00
grace_minutes = 10
percent_per_day = 10
max_percent = 50

[late.extensions]
"dave@uni.edu" = 3
"""
METADATA = """
alice:
  :submitters:
  - :name: Alice Able
    :sid: '1001'
    :email: alice@uni.edu
  :created_at: 2024-10-01 20:00:00.000000000 +00:00
  :score: 0.0
bob:
  :submitters:
  - :name: Bob Baker
    :sid: '1002'
    :email: bob@uni.edu
  :created_at: 2024-10-03 12:00:00.123456789 +00:00
  :results: !ruby/hash:ActiveSupport::HashWithIndifferentAccess
    score: 0
dave:
  :submitters:
  - :name: Dave Dunn
    :sid: '1004'
    :email: dave@uni.edu
  :created_at: 2024-10-03 12:00:00 +00:00
"""
BUGGY = {"network.py": [("dZ2 = (self.probs - y_true) / m", "dZ2 = self.probs - y_true")]}
HANGING = {"network.py": [("return np.argmax(self.forward(X), axis=1)", "while True:\n            pass")]}
CRASHING = {"network.py": [("return np.argmax(self.forward(X), axis=1)",
                            "import os, signal\n        os.kill(os.getpid(), signal.SIGSEGV)")]}


def zip_of(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def solution_files() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in SOLUTION.glob("*.py")}


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("assignment") / "batch.toml"
    path.write_text(ASSIGNMENT)
    return load_assignment(path)


@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    make_submission(root / "alice")
    make_submission(root / "bob", BUGGY)
    make_submission(root / "carol", HANGING)
    make_submission(root / "dave", CRASHING)
    (root / "erin.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    zip_of(root / "frank.zip", {**solution_files(), "../escaped.py": b"print('outside')\n"})
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# My network"),
                                               nbformat.v4.new_code_cell((SOLUTION / "network.py").read_text())])
    nbformat.write(notebook, root / "heidi.ipynb")
    (root / "notes.txt").write_text("not a submission")
    (root / "submission_metadata.yml").write_text(METADATA)
    return root


def config(spec, submissions, out, **kw) -> BatchConfig:
    return BatchConfig(submissions=submissions, out=out, assignment=spec, seed=SEED, exercise_ids=["network"],
                       **{"workers": 2, **kw})


@pytest.fixture(scope="module")
def batch(spec, klass, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    log = io.StringIO()
    run = run_batch(config(spec, klass, out, canvas=True), stream=log)
    return run, out, log.getvalue()


def table(out: Path) -> dict[str, dict]:
    with open(out / "gradebook.csv", newline="") as f:
        return {row["submission"]: row for row in csv.DictReader(f)}


def verdicts(result: GradeResult) -> list[tuple]:
    return [(c.name, c.status, round(c.score, 6), c.hint and c.hint.code, [k.passed for k in c.cases])
            for c in result.checks()]


def result_of(out: Path, name: str) -> GradeResult:
    return GradeResult.from_dict(json.loads((out / name / RESULT).read_text()))


# ------------------------------------------------------------------------------ the mixed class


def test_one_gradebook_row_per_submission_with_its_status(batch):
    run, out, log = batch
    rows = table(out)
    assert list(rows) == ["alice", "bob", "carol", "dave", "erin", "frank", "heidi"]
    assert run.skipped_entries == ["notes.txt"]
    assert (run.graded, run.reused) == (7, 0)
    status = {name: row["status"] for name, row in rows.items()}
    assert status == {"alice": "graded", "bob": "graded", "carol": "timed out", "dave": "graded",
                      "erin": "error", "frank": "error", "heidi": "graded"}
    assert rows["alice"]["score"] == rows["alice"]["max_score"] == rows["alice"]["network"] == "13"
    assert rows["heidi"]["score"] == "13"  # a notebook
    assert float(rows["bob"]["network"]) < 13 and float(rows["dave"]["network"]) < 13
    assert "predict" in rows["carol"]["message"]
    assert "not a valid zip" in rows["erin"]["message"]
    assert "../escaped.py" in rows["frank"]["message"] and "outside" in rows["frank"]["message"]
    assert rows["erin"]["max_score"] == "13" and rows["erin"]["score"] == "0"
    for name in rows:  # every submission has its reports, its full result and its record
        assert {"report.html", "results.json", RESULT, RECORD} <= {p.name for p in (out / name).iterdir()}
    assert not list(out.parent.glob("escaped.py")) and not (out / "escaped.py").exists()
    assert log.count("\n") == 7 and "7/7" in log and "/min" in log and "ETA" in log  # plain progress lines


def test_verdicts_equal_grading_each_submission_alone(batch, klass, spec):
    from grader.engine import grade
    _run, out, _log = batch
    for name in ("bob", "carol", "dave"):
        alone = grade(klass / name, spec, SEED, exercise_ids=["network"])
        batched = result_of(out, name)
        assert verdicts(batched) == verdicts(alone), name
        assert batched.seed_kind == "private"


def test_late_penalty_from_gradescope_metadata_with_extension_and_grace(batch):
    _run, out, _log = batch
    rows = table(out)
    bob = result_of(out, "bob")
    # 2024-10-03 12:00 is 1 day 11 h 51 min after the due date plus grace: 2 started days, 10 % each, of
    # the points earned.
    assert rows["bob"]["late_days"] == "2"
    assert bob.penalty == pytest.approx(0.2 * bob.raw_score, abs=1e-4)
    assert float(rows["bob"]["score"]) == pytest.approx(bob.raw_score - bob.penalty, abs=1e-4)
    assert json.loads((out / "bob" / "results.json").read_text())["score"] == pytest.approx(bob.score, abs=1e-4)
    assert (rows["alice"]["late_days"], rows["alice"]["penalty"]) == ("0", "0")
    assert (rows["dave"]["late_days"], rows["dave"]["penalty"]) == ("0", "0")  # a 3-day extension
    assert rows["carol"]["late_days"] == "" and result_of(out, "carol").penalty == 0  # no time: no penalty
    assert any("carol" in w for w in batch[0].warnings)


def test_canvas_csv_names_the_students_from_the_metadata(batch):
    _run, out, _log = batch
    lines = list(csv.reader((out / "canvas.csv").read_text().splitlines()))
    assert lines[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Batch test"]
    assert lines[1][0].strip() == "Points Possible" and lines[1][-1] == "13"
    assert ["Alice Able", "", "1001", "alice@uni.edu", "", "13"] in lines
    assert ["erin", "", "", "", "", "0"] in lines


def test_class_summary_shows_where_the_class_struggled(batch):
    _run, out, _log = batch
    page = (out / "summary.html").read_text()
    records = [json.loads((out / n / RECORD).read_text()) for n in table(out)]
    from grader.batch import summary
    data = summary.build(records, list(table(out).values()), "Batch test")
    hardest = data["checks"][0]
    assert hardest["rate"] < 100 and data["checks"][-1]["rate"] == 100
    assert any("backward" in h["checks"][0] for h in data["hints"])  # bob's gradient bug was recognised
    assert {p["submission"] for p in data["problems"]} == {"carol", "erin", "frank"}
    assert any({"alice", "bob"} <= set(g["members"]) for g in data["similar_code"])  # one-line differences
    assert data["slowest"][0]["submission"] in ("carol", "dave", "bob", "alice")
    for text in ("Class summary", hardest["check"], "Near-identical code", "Slowest submissions", "frank"):
        assert text in page


# ------------------------------------------------------------------------------ reruns


def test_rerun_skips_unchanged_and_keeps_overrides(batch, spec, klass, tmp_path):
    _run, out, _log = batch
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    overrides = "submission,points,comment\nbob,1.5,regrade request\nbob,0.5,\nnobody,1,typo\n"
    (copy / "overrides.csv").write_text(overrides)
    started = time.monotonic()
    run = run_batch(config(spec, klass, copy), stream=io.StringIO())
    assert time.monotonic() - started < 20
    assert (run.graded, run.reused) == (0, 7)
    rows, before = table(copy), table(out)
    assert (copy / "overrides.csv").read_text() == overrides  # the instructor's file is never rewritten
    assert rows["bob"]["adjustment"] == "2" and rows["bob"]["comment"] == "regrade request"
    assert float(rows["bob"]["score"]) == pytest.approx(float(before["bob"]["score"]) + 2)
    assert any("nobody" in w for w in run.warnings)
    assert {k: v for k, v in rows.items() if k != "bob"} == {k: v for k, v in before.items() if k != "bob"}


def test_rerun_regrades_only_new_changed_or_failed_submissions(batch, spec, klass, tmp_path):
    _run, out, _log = batch
    submissions, copy = tmp_path / "class", tmp_path / "out"
    shutil.copytree(klass, submissions)
    shutil.copytree(out, copy)
    record = json.loads((copy / "erin" / RECORD).read_text())
    (copy / "erin" / RECORD).write_text(json.dumps({**record, "retry": True}))  # the grader failed there
    zip_of(submissions / "frank.zip", {"../../other.py": b"x = 1\n"})  # changed content
    (submissions / "gina.zip").write_bytes(b"")  # a late arrival
    run = run_batch(config(spec, submissions, copy), stream=io.StringIO())
    assert (run.graded, run.reused) == (3, 5)
    rows = table(copy)
    assert {k: v for k, v in rows.items() if k not in ("frank", "gina")} == \
        {k: v for k, v in table(out).items() if k != "frank"}
    assert "../../other.py" in rows["frank"]["message"] and rows["gina"]["status"] == "error"
    assert "retry" not in json.loads((copy / "erin" / RECORD).read_text())


def test_kill_9_loses_nothing_already_graded(spec, tmp_path):
    submissions, out = tmp_path / "class", tmp_path / "out"
    submissions.mkdir()
    (submissions / "a_invalid.zip").write_bytes(b"not a zip")
    zip_of(submissions / "b_escape.zip", {"/etc/evil.py": b"x = 1\n"})
    make_submission(submissions / "c_alice")
    env = {**os.environ, "GRADER_PRIVATE_SEED": str(SEED.value)}
    proc = subprocess.Popen([sys.executable, "-m", "grader.cli", "batch", str(submissions), "--out", str(out), "-j",
                             "1", "-e", "network", "--assignment", str(spec.path)], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob(f"*/{RECORD}")) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done = list(out.glob(f"*/{RECORD}"))
    assert done, "nothing was graded before the kill"
    for record in done:  # whatever was committed is whole
        assert json.loads(record.read_text())["status"]
        assert json.loads((record.parent / "results.json").read_text())["tests"] is not None
    run = run_batch(config(spec, submissions, out), stream=io.StringIO())
    assert (run.reused, run.graded) == (len(done), 3 - len(done))
    rows = table(out)
    assert [r["status"] for r in rows.values()] == ["error", "error", "graded"]
    assert rows["c_alice"]["score"] == "13"


# ------------------------------------------------------------------------------ Dask


def test_dask_cluster_produces_the_same_gradebook(batch, spec, klass, tmp_path):
    from distributed import LocalCluster
    _run, out, _log = batch
    submissions = tmp_path / "class"
    submissions.mkdir()
    for name in ("bob", "erin.zip", "frank.zip", "submission_metadata.yml"):
        source = klass / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, submissions / name)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        run = run_batch(config(spec, submissions, tmp_path / "out", scheduler=cluster.scheduler_address),
                        stream=io.StringIO())
    assert run.executor == "dask" and run.graded == 3
    rows, local = table(tmp_path / "out"), table(out)
    assert rows == {name: local[name] for name in ("bob", "erin", "frank")}
    assert verdicts(result_of(tmp_path / "out", "bob")) == verdicts(result_of(out, "bob"))


# ------------------------------------------------------------------------------ the parts


def test_unpacking_refuses_escapes_links_and_bombs(tmp_path):
    def refused(members, **limits):
        data = io.BytesIO()
        with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, content in members.items():
                if isinstance(content, zipfile.ZipInfo):
                    archive.writestr(content, b"/etc/passwd")
                else:
                    archive.writestr(name, content)
        target = tmp_path / f"t{len(list(tmp_path.iterdir()))}"
        with pytest.raises(PayloadError) as error:
            unpack_zip(data.getvalue(), target, **limits)
        assert not target.exists() or not any(target.rglob("*.py"))
        return str(error.value)

    link = zipfile.ZipInfo("link.py")
    link.external_attr = 0o120777 << 16
    assert "outside" in refused({"ok.py": b"", "a/../../up.py": b""})
    assert "outside" in refused({"/abs.py": b""})
    assert "outside" in refused({"C:\\win.py": b""})
    assert "link" in refused({"link.py": link})
    assert "bytes" in refused({"bomb.py": b"0" * 3_000_000}, max_bytes=1_000_000)
    assert "files" in refused({f"f{i}.py": b"" for i in range(5)}, max_files=4)
    with zipfile.ZipFile(tmp_path / "fine.zip", "w") as archive:
        archive.writestr("hw/layers.py", "x = 1\n")
        archive.writestr("__MACOSX/hw/._layers.py", "junk")
    unpack_zip((tmp_path / "fine.zip").read_bytes(), tmp_path / "fine")
    assert sorted(p.relative_to(tmp_path / "fine").as_posix() for p in (tmp_path / "fine").rglob("*.py")) == \
        ["hw/layers.py"]


def test_discovery_names_entries_and_skips_what_is_not_a_submission(tmp_path):
    for name in ("alice.py", "alice.zip", "bob.ipynb", "carol", ".hidden", "readme.md", "submission_metadata.yml"):
        (tmp_path / name).mkdir() if "." not in name or name == ".hidden" else (tmp_path / name).write_text("")
    (tmp_path / "link").symlink_to(tmp_path / "carol")
    entries, skipped = discover(tmp_path)
    assert [(e.name, e.kind) for e in entries] == [("alice.py", "file"), ("alice.zip", "zip"), ("bob", "file"),
                                                   ("carol", "folder")]
    assert sorted(p.name for p in skipped) == ["link", "readme.md"]


def test_late_policy_days_grace_caps_and_time_zones():
    policy = late.late_policy({"late": {"due": "2024-10-01T23:59:00-04:00", "grace_minutes": 30,
                                        "percent_per_day": 20, "max_percent": 50, "max_days": 4,
                                        "extensions": {"amy": 1}}})
    at = late.parse_time

    def days(when, name="x"):
        info = late.assess(policy, name, late.Submitted(at(when, "test")))
        return info["days"], info["percent"]
    assert days("2024-10-02T00:20:00-04:00") == (0, 0)  # within the grace period
    assert days("2024-10-02T00:40:00-04:00") == (1, 20)
    assert days("2024-10-02 04:40:00 +00:00") == (1, 20)  # the same moment, another zone
    assert days("2024-10-04T00:40:00-04:00") == (3, 50)  # capped
    assert days("2024-10-07T00:40:00-04:00") == (6, 100)  # beyond max_days: not accepted
    assert days("2024-10-02T00:40:00-04:00", "amy") == (0, 0)  # extension
    assert days("2024-10-02T00:40:00") == (1, 20)  # naive: read in the due date's zone
    assert late.assess(policy, "x", late.Submitted(None)) is None
    assert late.penalty_points({"days": 1, "percent": 20, "of": "earned"}, 10, 13) == 2
    assert late.penalty_points({"days": 1, "percent": 20, "of": "total"}, 10, 13) == 2.6
    with pytest.raises(late.LateError):
        late.late_policy({"late": {"grace_minutes": 3}})
    naive_due = late.late_policy({"late": {"due": "2024-10-01T23:59:00"}})
    with pytest.raises(late.LateError, match="UTC offset"):
        late.assess(naive_due, "x", late.Submitted(at("2024-10-02T00:00:00+00:00", "t")))


def test_submission_times_from_a_csv_override_gradescope(tmp_path):
    (tmp_path / "submission_metadata.yml").write_text(METADATA)
    (tmp_path / "times.csv").write_text("submission,submitted_at\nbob,2024-10-01T12:00:00+00:00\neve,2024-10-05\n")
    times = late.submission_times(tmp_path, tmp_path / "times.csv")
    assert times["bob"].at.isoformat() == "2024-10-01T12:00:00+00:00"
    assert times["bob"].students[0]["email"] == "bob@uni.edu"  # the identity still comes from the metadata
    assert times["alice"].at.isoformat() == "2024-10-01T20:00:00+00:00"
    assert times["eve"].at.isoformat() == "2024-10-05T23:59:59"  # a bare date is the end of that day
    (tmp_path / "bad.csv").write_text("name,time\nbob,2024-10-01\n")
    with pytest.raises(late.LateError, match="submission,submitted_at"):
        late.read_times_csv(tmp_path / "bad.csv")


def test_late_table_changes_penalties_not_the_cache_key(tmp_path):
    base = 'title = "t"\nexercises = ["network"]\n'
    keys = []
    for text in (base, base + '[late]\ndue = "2024-10-01T23:59:00Z"\n', base + "[limits]\ncpu_s_per_call = 3\n"):
        path = tmp_path / f"a{len(keys)}.toml"
        path.write_text(text)
        keys.append(assignment_bundle(load_assignment(path))["digest"])
    assert keys[0] == keys[1] != keys[2]


def test_overrides_file_is_created_once_and_validated(tmp_path):
    path = tmp_path / "overrides.csv"
    gradebook.ensure_overrides_file(path)
    assert path.read_text() == "submission,points,comment\n"
    path.write_text("submission,points,comment\nbob,-1,copied\nbob,x,\n")
    with pytest.raises(gradebook.OverrideError, match="line 3"):
        gradebook.read_overrides(path)


def test_similarity_groups_copies_even_when_renamed_but_not_different_code():
    original = ("def f(values):\n    total = 0\n    for v in values:\n        total += v * v\n"
                "    return total / len(values)\n") * 3
    renamed = original.replace("total", "acc").replace("values", "xs") + "# my own work\n"
    different = "def f(xs):\n    import numpy as np\n    return float(np.mean(np.square(np.asarray(xs))))\n" * 3
    sets = {name: similarity.shingles([src]) for name, src in
            (("a", original), ("b", renamed), ("c", different))}
    groups = similarity.similar_groups(sets)
    assert [g["members"] for g in groups] == [["a", "b"]]


def test_progress_is_plain_lines_off_a_terminal():
    stream, now = io.StringIO(), [0.0]
    progress = Progress(4, stream, clock=lambda: now[0])
    for name in ("a", "b"):
        now[0] += 30
        progress.step(name, "graded")
    assert stream.getvalue().splitlines() == ["1/4  2.0/min  ETA 1:30  a: graded", "2/4  2.0/min  ETA 1:00  b: graded"]


def test_batch_requires_the_private_seed(tmp_path, monkeypatch):
    from grader.cli import main
    for name in ("GRADER_PRIVATE_SEED", "GRADER_SEED_FILE"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(main, ["batch", str(tmp_path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "private seed" in result.output and "--practice" in result.output


# ------------------------------------------------------------------------------ what student code can see


def test_a_new_output_folder_is_the_graders_alone(spec, tmp_path):
    (tmp_path / "class").mkdir()
    out = tmp_path / "reports" / "hw1"
    run_batch(config(spec, tmp_path / "class", out), stream=io.StringIO())
    assert (out / "gradebook.csv").exists()
    assert out.stat().st_mode & 0o777 == 0o700  # a sandbox uid cannot read the class's reports


def test_each_submission_is_graded_with_the_class_and_the_reports_hidden(spec, klass, tmp_path, monkeypatch):
    """Hidden from the student's process: classmates' code (a correct module to import) and the reports."""
    from grader.batch import runner, worker
    from grader.batch.discover import read_payload

    seen = {}
    real = worker.grade

    def spy(path, assignment, seed, **kw):
        seen.update(kw)
        return real(path, assignment, seed, **kw)

    monkeypatch.setattr(worker, "grade", spy)
    cfg = config(spec, klass, tmp_path / "out")
    entry = next(e for e in discover(klass)[0] if e.name == "alice")
    job = runner._job(entry, read_payload(entry, cfg.max_bytes, cfg.max_files), "key", None,
                      assignment_bundle(spec), cfg)
    from grader.sandbox import launch
    try:
        outcome = worker.grade_job(job)
        forked = sum(launch.current_zygote(p).spawned for p in launch.PRELOADS)
    finally:
        launch.stop_zygotes()  # the worker's zygotes are this test's, not the next one's
    assert set(seen["hide"]) == {str(klass.resolve()), str((tmp_path / "out").resolve())}
    assert outcome["record"]["status"] == "graded"
    assert forked >= 1  # the student's process came from one of the worker's zygotes


def _batch_tree(pid: int) -> set[tuple[int, int]]:
    """(pid, start time) of `pid`'s live descendants: the fork server, the workers, their sandbox children."""
    from grader.sandbox import reaper
    table = reaper.process_table()
    return {(p, table[p].start) for p in reaper.descendants({pid}, table) - {pid} if table[p].state not in "ZX"}


def test_kill_9_of_the_batch_process_leaves_no_worker_behind(spec, tmp_path):
    """Only the batch process is killed (not its group): the fork server, the workers and the student's
    processes die with it."""
    from grader.sandbox import reaper
    submissions, out = tmp_path / "class", tmp_path / "out"
    for name in ("a", "b", "c"):
        make_submission(submissions / name)
    proc = subprocess.Popen([sys.executable, "-m", "grader.cli", "batch", str(submissions), "--out", str(out), "-j",
                             "2", "-e", "network", "--assignment", str(spec.path)], start_new_session=True,
                            env={**os.environ, "GRADER_PRIVATE_SEED": str(SEED.value)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tree: set[tuple[int, int]] = set()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:  # the server, 2 workers, a sandbox child
            tree = _batch_tree(proc.pid)
            if len(tree) >= 4:
                break
            time.sleep(0.05)
        assert len(tree) >= 4, "the batch never had its workers running"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            table = reaper.process_table()
            left = [pid for pid, start in tree if pid in table and table[pid].start == start
                    and table[pid].state not in "ZX"]
            if not left:
                break
            time.sleep(0.05)
        assert left == []
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
