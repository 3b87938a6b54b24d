"""The stress test of the write path: several processes writing the same few artifacts at once, no crash."""

from __future__ import annotations

import json

from corrrelax_lib.io.artifacts import artifact_problem
from corrrelax_lib.testing.processes import job_command, run_together
from corrrelax_lib.testing.write_job import artifact_bytes

N_PROCESSES, N_WRITES, N_ARTIFACTS, SIZE = 4, 300, 5, 4096


def test_processes_writing_the_same_artifacts_at_once_never_crash_and_leave_them_complete(tmp_path):
    command = job_command("corrrelax_lib.testing.write_job", tmp_path, "--writes", N_WRITES, "--artifacts",
                          N_ARTIFACTS, "--size", SIZE, "--wait-for-start")
    results = run_together([command] * N_PROCESSES)
    reports = [json.loads(result.stdout) for result in results]
    assert [result.returncode for result in results] == [0] * N_PROCESSES, [r.stderr[-2000:] for r in results]
    crashes = [crash for report in reports for crash in report["crashes"]]
    assert sum(report["writes"] for report in reports) == N_PROCESSES * N_WRITES
    assert crashes == [], f"{len(crashes)} of {N_PROCESSES * N_WRITES} writes crashed, e.g. {crashes[:3]}"
    artifacts = [tmp_path / f"artifact{i}.npz" for i in range(N_ARTIFACTS)]
    for path in artifacts:
        assert artifact_problem(path, {"image_id": path.stem, "size": SIZE}) is None
        assert path.read_bytes() == artifact_bytes(path, SIZE)
    # Nothing else: every temporary file was renamed or removed by its own writer.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{path.stem}.{suffix}" for path in artifacts for suffix in ("json", "npz"))
