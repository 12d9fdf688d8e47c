"""Runs every service on one machine: the embedded AWS, gateways, pollers and schedules of `csms run`."""
