"""A manifest that AWS or local mode could not honour is refused when it is read, not at deploy or at run time."""

from __future__ import annotations

from typing import Callable

import pytest

from services.shared.manifest import Bucket, Catalog, Queue, Secret, ServiceManifest, Subscription


@pytest.mark.parametrize("make, problem", [
    (lambda: Queue(name="q", handler="m:f", fifo=True), "group_by"),
    (lambda: Queue(name="q", handler="m:f", group_by="site_id"), "only a FIFO queue"),
    (lambda: Queue(name="q", handler="m:f", fifo=True, group_by="site_id", batch_size=11), "10 messages"),
    (lambda: Subscription(event_pattern={"detail-type": ["X"]},
                          queue=Queue(name="q", handler="m:f", fifo=True, group_by="site_id")), "one message group"),
    (lambda: ServiceManifest(name="s", buckets=(Bucket("mine"),), catalogs=(Catalog("lake", bucket="theirs"),)),
     "not one of its own"),
    (lambda: Bucket("Not_A_Bucket"), "lowercase"),
    (lambda: Secret("Stripe Key", description="x"), "lowercase"),
])
def test_what_aws_cannot_build_is_refused(make: Callable[[], object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        make()


def test_a_fifo_queue_and_its_dlq_carry_the_suffix_sqs_requires() -> None:
    ordered = Queue(name="site-work", handler="m:f", fifo=True, group_by="site_id")
    assert (ordered.queue_name, ordered.dlq_name) == ("site-work.fifo", "site-work-dlq.fifo")
    plain = Queue(name="work", handler="m:f")
    assert (plain.queue_name, plain.dlq_name) == ("work", "work-dlq")
