"""Scale: run ingest (and entity / index) work as Prefect tasks on a Dask cluster.

What it does: :mod:`~litmine.scale.runner` chooses the Prefect task runner
from the settings (``runner``, ``dask.*``) and runs flows with it;
:mod:`~litmine.scale.shards` parses one file per task into a staging shard
(Parquet) on a worker; :mod:`~litmine.scale.commit` loads shards into the
store from one process; :mod:`~litmine.scale.ingest` is the file-ingest flow
that ties them together.

What it may import: ``litmine.ingest`` and everything below it (store,
parse, passages, vectors, entities). Never search, answer or a shell. Dask,
Prefect and pyarrow are imported inside functions or in modules only the
runner loads, so ``import litmine.scale`` stays light.
"""
