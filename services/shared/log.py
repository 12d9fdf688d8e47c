"""One structured logger for every handler (Powertools: JSON lines, Lambda context, sampling)."""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="csms")
