"""Files of rolled-back uploads: an attachment written to disk whose transaction then rolled back
is removed by the sweep once older than its grace period; referenced files stay, and a file a
new upload reuses is young again until that upload commits."""

from __future__ import annotations

import hashlib
import os
import time

import pytest

from qingzhi.config import Settings
from qingzhi.store.db import Database
from qingzhi.tasks import attachments
from qingzhi.tasks.lifecycle import TaskStatus
from qingzhi.tasks.models import TaskAttachment
from tests.factories import Org
from tests.helpers import rows, user_actor
from tests.tasks.helpers import issue

TWO_HOURS = 2 * 3600


class Abort(Exception):
    """Rolls the upload's transaction back after the file was written."""


def _age(path: os.PathLike[str], seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _upload(
    db: Database, settings: Settings, task_id: int, data: bytes, *, abort: bool = False
) -> None:
    """An upload in a transaction of its own; ``abort``: rolled back once the file is written."""
    with db.session(write=True) as session:
        attachments.add(
            session=session,
            actor=user_actor(session, "chief_a"),
            settings=settings,
            task_id=task_id,
            filename="记录.txt",
            data=data,
        )
        if abort:
            raise Abort


def test_a_rolled_back_uploads_file_is_swept_and_a_kept_one_stays(
    db: Database, org: Org, settings: Settings
) -> None:
    with db.session(write=True) as session:
        task = issue(session, org, owner="A", status=TaskStatus.in_progress).id
    kept, lost = "已走访商户 12 家\n".encode(), "此次上传随事务回滚\n".encode()
    _upload(db, settings, task, kept)
    with pytest.raises(Abort):
        _upload(db, settings, task, lost, abort=True)
    kept_path = attachments.path_of(settings, hashlib.sha256(kept).hexdigest())
    lost_path = attachments.path_of(settings, hashlib.sha256(lost).hexdigest())
    assert kept_path.is_file() and lost_path.is_file()  # the rollback left the file behind
    assert rows(db, TaskAttachment) == 1  # … and no row for it
    stray = kept_path.parent / ".upload-crashed"
    stray.write_bytes(b"half a file")

    with db.session() as session:  # young: an upload may still be committing it
        assert attachments.sweep(session, settings) == []
    for p in (kept_path, lost_path, stray):
        _age(p, TWO_HOURS)
    with db.session() as session:
        removed = attachments.sweep(session, settings)
    assert sorted(removed) == sorted([lost_path, stray])
    assert kept_path.is_file() and not lost_path.exists() and not stray.exists()


def test_a_reused_old_file_is_young_again_until_its_upload_commits(
    db: Database, org: Org, settings: Settings
) -> None:
    with db.session(write=True) as session:
        task = issue(session, org, owner="A", status=TaskStatus.in_progress).id
    data = "同一份材料\n".encode()
    with pytest.raises(Abort):
        _upload(db, settings, task, data, abort=True)
    path = attachments.path_of(settings, hashlib.sha256(data).hexdigest())
    _age(path, TWO_HOURS)  # an old orphan …
    assert attachments.store(settings, data) == path.name  # … an upload stores it again, no row yet
    with db.session() as session:  # the sweep leaves it to that upload
        assert attachments.sweep(session, settings) == []
    _upload(db, settings, task, data)  # committed: referenced
    _age(path, TWO_HOURS)
    with db.session() as session:  # stays however old
        assert attachments.sweep(session, settings) == []
    assert path.is_file()
