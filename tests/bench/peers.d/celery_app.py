"""The Celery application of the Celery peer (CircuiTree's stack): Redis as broker and as
result backend (PEERS_REDIS_URL), one task that runs peer_job.job. Workers are started by
the benchmark as `python3 -m celery -A celery_app worker --pool prefork --concurrency N`."""
import os

from celery import Celery

import peer_job

app = Celery("peers", broker=os.environ["PEERS_REDIS_URL"], backend=os.environ["PEERS_REDIS_URL"])
app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"],
                broker_connection_retry_on_startup=True, worker_hijack_root_logger=False)


@app.task(name="peers.job")
def job(duration):
    return peer_job.job(duration)
