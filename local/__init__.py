"""Runs every service on one machine: the embedded AWS, gateways, pollers and schedules of `csms run`."""

# The account and region moto answers for: every ARN local/ makes names them.
ACCOUNT = "123456789012"
REGION = "us-east-1"
