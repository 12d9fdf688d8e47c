"""Event consumers: SQS batches with partial failures, and the EventBridge envelope inside each record.

Every subscription is rule -> SQS -> Lambda, so a consumer reads the event from the
record's body and answers `batchItemFailures` for the records it could not process.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from services.shared.log import metric

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from pydantic import BaseModel

# Only a type: pydantic's model machinery is loaded by the event models themselves, when a record is parsed.
E = TypeVar("E", bound="BaseModel")


def sqs_batch(event: dict[str, Any], context: Any, record_handler: Callable[["SQSRecord"], None]) -> dict[str, Any]:
    """Runs `record_handler` on each record; a record that raises is reported as a batch item failure."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    # A batch whose every record failed is still a partial response (all listed), not an exception.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    if response["batchItemFailures"]:
        # Retried, then dead-lettered: failures here warn before the dead-letter queue fills.
        queue = event["Records"][0]["eventSourceARN"].rpartition(":")[2]
        metric("ConsumerRecordsFailed", len(response["batchItemFailures"]), queue=queue)
    return response


def envelope(record: "SQSRecord") -> dict[str, Any]:
    """The EventBridge event an SQS record carries: source, detail-type, detail, ..."""
    return json.loads(record.body)


def detail(record: "SQSRecord", model: type[E]) -> E:
    return model.model_validate(envelope(record)["detail"])
