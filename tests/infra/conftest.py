"""The CDK runs on the machine's Node.js; its end-of-life notice is for the person deploying, not for test output."""

from __future__ import annotations

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")
