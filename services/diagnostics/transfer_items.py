"""The transfers table's item keys and the references of the commands diagnostics asks for. Pure: no I/O, so that
the stream relay (services/diagnostics/changes.py) reads them without loading the table's code (boto3, S3)."""

from __future__ import annotations

UPLOAD, IMAGE, CAMPAIGN, TARGET = "upload", "image", "campaign", "target#"
# References of the commands diagnostics asks for (a remediation attempt's is `{incident_id}#{n}`).
UPLOAD_REFERENCE, FIRMWARE_REFERENCE = "upload:", "firmware:"
