"""Batch enrolment without the broker: a job's chunks, enrolled one by one and merged, give
exactly the gallery that single-process ``gallery build`` gives; the job folder resumes."""

from __future__ import annotations

import pytest
from tests.batch.batch_helpers import assert_same_gallery, make_gallery, plan_job, single_process

from bordermatch.batch import jobs, tasks
from bordermatch.batch.worker import Engines, enrol_chunk, handle
from bordermatch.gallery.build import strict_cosine_threshold
from bordermatch.gallery.file import load, save


@pytest.fixture(scope="module")
def threshold():
    return strict_cosine_threshold("sface", 1e-5)


@pytest.fixture(scope="module")
def engines():
    return Engines()


@pytest.fixture
def gallery(tmp_path, publicdomain, astronaut):
    return make_gallery(tmp_path, publicdomain, astronaut, rows=11)


def test_chunks_merged_are_the_gallery_build_file(tmp_path, gallery, threshold, engines):
    job_dir = tmp_path / "job"
    job, created = plan_job(job_dir, gallery, threshold, chunk=2)
    assert created and (job.travellers, job.chunks, job.rows) == (6, 3, 11)
    for chunk in reversed(range(job.chunks)):  # the order workers finish in does not matter
        assert enrol_chunk(job, job_dir, chunk, engines) is True
    merged = jobs.merge(job, job_dir)
    reference = single_process(gallery, threshold)
    assert_same_gallery(merged, reference)
    assert [e["reason"] for e in merged.report["rejected"]] == ["not_found"]
    # The files on disk, too: byte for byte what gallery build writes.
    a, _ = save(merged, tmp_path / "batch")
    b, _ = save(reference, tmp_path / "single")
    assert a.read_bytes() == b.read_bytes()
    assert_same_gallery(load(a), load(b))


def test_a_done_chunk_is_skipped_and_a_resumed_job_keeps_its_id(tmp_path, gallery, threshold,
                                                                engines):
    job_dir = tmp_path / "job"
    job, _ = plan_job(job_dir, gallery, threshold, chunk=4)
    task = tasks.ChunkTask(str(job_dir), job.job_id, 1)
    assert handle(task.encode(), engines) == ("done", "")
    before = job.chunk_path(job_dir, 1).read_bytes()
    assert handle(task.encode(), engines) == ("skipped", "")  # a redelivered task
    assert job.chunk_path(job_dir, 1).read_bytes() == before
    again, created = plan_job(job_dir, gallery, threshold, chunk=4)
    assert not created and again == job and job.pending(job_dir) == [0]
    with pytest.raises(jobs.JobError, match="1 of 2 chunks not done"):
        jobs.merge(job, job_dir)
    with pytest.raises(jobs.JobError, match="other chunk_travellers"):
        plan_job(job_dir, gallery, threshold, chunk=3)


def test_tasks_no_retry_can_fix_are_dead_with_a_reason(tmp_path, gallery, threshold, engines):
    job_dir = tmp_path / "job"
    job, _ = plan_job(job_dir, gallery, threshold, chunk=4)
    outcome, detail = handle(b'{"v": 1, "kind": "enrol_chunk"', engines)
    assert outcome == "dead" and detail.startswith("bad_job: bad batch task")
    outcome, detail = handle(tasks.ChunkTask(str(job_dir), "other-job", 0).encode(), engines)
    assert (outcome, detail.split(":")[0]) == ("dead", "bad_job") and "not other-job" in detail
    outcome, detail = handle(tasks.ChunkTask(str(job_dir), job.job_id, 9).encode(), engines)
    assert outcome == "dead" and "has no chunk 9" in detail
    outcome, detail = handle(tasks.ChunkTask(str(tmp_path / "nowhere"), job.job_id, 0).encode(),
                             engines)
    assert outcome == "dead" and "no batch job there" in detail
    with open(gallery / "manifest.csv", "a") as fh:  # the manifest edited after planning
        fh.write("T999,A,B,P,D9999,USA,true,obama.jpg\n")
    outcome, detail = handle(tasks.ChunkTask(str(job_dir), job.job_id, 0).encode(), engines)
    assert outcome == "dead" and "changed since the job was planned" in detail
    assert job.pending(job_dir) == [0, 1]


def test_a_damaged_chunk_file_is_refused_at_merge(tmp_path, gallery, threshold, engines):
    job_dir = tmp_path / "job"
    job, _ = plan_job(job_dir, gallery, threshold, chunk=6)
    assert job.chunks == 1
    job.chunk_path(job_dir, 0).write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(jobs.JobError, match="unreadable chunk result"):
        jobs.merge(job, job_dir)
