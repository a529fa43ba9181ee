"""Events kept in one SQLite file, each committed as it comes, so a crash, Ctrl-C or kill -9 loses none.

WAL journal with synchronous=FULL: a commit is on disk when `add()` returns, and readers (`maskwatch
events`) can read while a run writes. The same file is the outbox of `maskwatch watch`: each delivery target
(an MQTT camera topic, a webhook) keeps the id of the last event it acknowledged in `deliveries`, so what
was not acknowledged is sent again after an outage or a restart. Snapshots of faces go beside the file (`X/EVENTS.db` ->
`X/EVENTS.snapshots/`); faces are personal data, so the database is created 0600 and that folder 0700.
"""

from maskwatch.store.db import EventStoreError
from maskwatch.store.events import EventStore
from maskwatch.store.export import write_csv
from maskwatch.store.retention import Deleted
from maskwatch.store.runs import process_identity
from maskwatch.store.schema import SCHEMA_VERSION
from maskwatch.store.snapshots import clip_folder, snapshot_folder

__all__ = ["SCHEMA_VERSION", "Deleted", "EventStore", "EventStoreError", "clip_folder", "process_identity",
           "snapshot_folder", "write_csv"]
