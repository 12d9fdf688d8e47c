"""The OCPP-J kernel shared by every service: framing, schema validation, errors, dispatch."""
