"""Where data lives: the manifests' tables, the S3 buckets, the analytics catalog and the secrets."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_athena as athena
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_glue as glue
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from services.shared.manifest import Key, Table

_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER, "B": dynamodb.AttributeType.BINARY}


def _attribute(key: Key) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key.name, type=_TYPES[key.type])


class Data(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, prefix: str, retain: bool, stripe_secret_name: str) -> None:
        super().__init__(scope, construct_id)
        self.prefix = prefix
        self.retain = retain
        self.removal = cdk.RemovalPolicy.RETAIN if retain else cdk.RemovalPolicy.DESTROY
        self.tables: dict[str, dynamodb.Table] = {}
        self.exports = self._bucket("Exports", [
            # Exports are rewritten by partition; old versions are kept a month for recovery, then dropped.
            s3.LifecycleRule(id="old-versions", noncurrent_version_expiration=cdk.Duration.days(30)),
            s3.LifecycleRule(id="athena-results", prefix="athena-results/", expiration=cdk.Duration.days(30)),
            s3.LifecycleRule(id="infrequent", transitions=[s3.Transition(
                storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=cdk.Duration.days(90))]),
        ])
        self.uploads = self._bucket("Uploads", [
            s3.LifecycleRule(id="old-versions", noncurrent_version_expiration=cdk.Duration.days(30)),
            s3.LifecycleRule(id="diagnostics", prefix="diagnostics/", expiration=cdk.Duration.days(90)),
            s3.LifecycleRule(id="unfinished", abort_incomplete_multipart_upload_after=cdk.Duration.days(7)),
        ])
        database_name = prefix.rstrip("-").replace("-", "_")  # Athena needs a name without hyphens
        glue.CfnDatabase(self, "Catalog", catalog_id=cdk.Aws.ACCOUNT_ID,
                                         database_input=glue.CfnDatabase.DatabaseInputProperty(
                                             name=database_name, description="csms analytics exports (Parquet)"))
        athena.CfnWorkGroup(
            self, "Workgroup", name=f"{prefix}analytics", recursive_delete_option=not retain,
            description="csms analytics: queries over the exports bucket",
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                # A runaway query stops at 10 GB scanned (about 0.05 USD).
                bytes_scanned_cutoff_per_query=10 * 1024**3,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.exports.bucket_name}/athena-results/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"))))
        # Created with a random placeholder; the operator puts the real values (docs/deploy.md).
        self.stripe_api_key = secretsmanager.Secret(self, "StripeApiKey", secret_name=f"{stripe_secret_name}/api-key",
                                                    description="Stripe secret API key (sk_...)", removal_policy=self.removal)
        self.stripe_webhook_secret = secretsmanager.Secret(
            self, "StripeWebhookSecret", secret_name=f"{stripe_secret_name}/webhook-secret",
            description="Stripe webhook signing secret (whsec_...)", removal_policy=self.removal)

    def _bucket(self, name: str, lifecycle: list[s3.LifecycleRule]) -> s3.Bucket:
        return s3.Bucket(self, name, encryption=s3.BucketEncryption.S3_MANAGED, versioned=True, enforce_ssl=True,
                         block_public_access=s3.BlockPublicAccess.BLOCK_ALL, lifecycle_rules=lifecycle,
                         removal_policy=self.removal, auto_delete_objects=not self.retain)

    def table(self, table: Table) -> dynamodb.Table:
        construct = dynamodb.Table(
            self, f"Table-{table.name}",
            table_name=f"{self.prefix}{table.name}",
            partition_key=_attribute(table.partition_key),
            sort_key=_attribute(table.sort_key) if table.sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True),
            time_to_live_attribute=table.ttl_attribute,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES if table.stream else None,
            deletion_protection=self.retain,
            removal_policy=self.removal,
        )
        for index in table.indexes:
            construct.add_global_secondary_index(
                index_name=index.name, partition_key=_attribute(index.partition_key),
                sort_key=_attribute(index.sort_key) if index.sort_key else None)
        self.tables[table.name] = construct
        return construct
