"""Background jobs: the database is the truth, the executor (local processes or Dask) is replaceable.

- :mod:`ecgdesk.jobs.queue`: the job table's operations (enqueue, leases, heartbeats, results, retry,
  cancel), each status change audited;
- :mod:`ecgdesk.jobs.runner`: running one leased job with heartbeats (the same function everywhere);
- :mod:`ecgdesk.jobs.executor`: the executor protocol and the local executor (worker processes);
- :mod:`ecgdesk.jobs.dask_executor`: the Dask executor;
- :mod:`ecgdesk.jobs.worker`: the loop that leases jobs and feeds an executor.

What a job *does* is named in a kinds table (``{kind: "module:function"}``) given by the workflow.
"""
