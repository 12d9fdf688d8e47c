"""The CDK app: `python app.py` synthesizes the stack into cdk.out without AWS credentials.

`cdk deploy -c stage=... -c name=value` sets the options infra/stack.py's Options lists.
"""

from __future__ import annotations

import os

import aws_cdk as cdk

from infra.stack import CsmsStack, Options
from services.shared.manifest import stack_name

# The CDK CLI passes its outdir in CDK_OUTDIR; run directly, the template goes to cdk.out.
app = cdk.App(outdir=os.environ.get("CDK_OUTDIR", "cdk.out"))
options = Options.from_context(app.node)
CsmsStack(app, stack_name(options.stage), options=options,
          description="csms: serverless OCPP charging station management system")
app.synth()
