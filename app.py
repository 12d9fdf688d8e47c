"""The CDK app: `python app.py` synthesizes the stack into cdk.out without AWS credentials."""

from __future__ import annotations

import os

import aws_cdk as cdk

from infra.stack import CsmsStack

# The CDK CLI passes its outdir in CDK_OUTDIR; run directly, the template goes to cdk.out.
app = cdk.App(outdir=os.environ.get("CDK_OUTDIR", "cdk.out"))
stage = app.node.try_get_context("stage") or "prod"
CsmsStack(app, f"csms-{stage}", stage=stage,
          deletion_protection=str(app.node.try_get_context("deletion_protection")).lower() != "false")
app.synth()
