"""Where data lives: what the manifests own (tables, buckets, secrets, catalogs, topics), and the grants that reach it.

Construct ids follow the manifests' names (`Table-<name>`; a bucket or a secret by its name in CamelCase),
so a resource keeps its logical id, and its data, for as long as its manifest keeps its name.

The catalog over the analytics exports' bucket holds a Glue table per export table (services/contracts/exports.py),
partitioned by `dt` with partition projection (no crawler, no partitions to add), and its owner's named queries
(`services/<owner>/queries/*.sql`) are Athena named queries of its workgroup.
"""

from __future__ import annotations

import re
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_athena as athena
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from constructs import Construct

from services.contracts.exports import PARTITION as PARTITION_COLUMN
from services.contracts.exports import TABLES, Column, ExportTable
from services.shared.exports import BUCKET as EXPORTS_BUCKET
from services.shared.exports import streamed_tables
from services.shared.manifest import Bucket, Catalog, Key, Secret, ServiceManifest, Table, Topic, environment_key

SERVICES = Path(__file__).resolve().parent.parent / "services"

_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER, "B": dynamodb.AttributeType.BINARY}
# What the owner of a catalog may do: query through its workgroup, and keep the database's tables and partitions.
_ATHENA_QUERIES = ["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults",
                   "athena:StopQueryExecution", "athena:GetWorkGroup"]
# The first day partition projection offers (`dt`); NOW is the last.
EXPORTS_SINCE = "2024-01-01"
_PARQUET = {"input_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "output_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "serde": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}
_GLUE_TABLES = ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable",
                "glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition", "glue:CreatePartition",
                "glue:BatchCreatePartition", "glue:UpdatePartition"]


def _attribute(key: Key) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key.name, type=_TYPES[key.type])


def camel(name: str) -> str:
    """`stripe/webhook-secret` -> `StripeWebhookSecret`: construct ids and output names."""
    return "".join(part.capitalize() for part in re.split(r"[-/]", name))


class Data(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, prefix: str, retain: bool, secret_prefix: str) -> None:
        super().__init__(scope, construct_id)
        self.prefix = prefix
        self.secret_prefix = secret_prefix
        self.retain = retain
        self.removal = cdk.RemovalPolicy.RETAIN if retain else cdk.RemovalPolicy.DESTROY
        self.tables: dict[str, dynamodb.Table] = {}
        self.buckets: dict[str, s3.Bucket] = {}
        self.secrets: dict[str, secretsmanager.Secret] = {}
        self.workgroups: dict[str, athena.CfnWorkGroup] = {}
        self.topics: dict[str, sns.Topic] = {}
        self._queries: cdk.NestedStack | None = None

    def own(self, manifest: ServiceManifest, scope: Construct | None = None) -> None:
        """Creates what the manifest owns; its tables in `scope` (a service's nested stack), if given."""
        streamed = streamed_tables(manifest)
        for table in manifest.tables:
            self.table(table, streamed=table.name in streamed, scope=scope)
        for bucket in manifest.buckets:
            self.bucket(bucket)
        for secret in manifest.secrets:
            self.secret(secret)
        for catalog in manifest.catalogs:
            self.catalog(catalog)
            self.named_queries(catalog, sorted((SERVICES / manifest.name / "queries").glob("*.sql")))
        for topic in manifest.topics:
            self.topic(topic)

    def grant(self, role: iam.IRole, manifest: ServiceManifest) -> None:
        """Everything the manifest owns, to `role`, and nothing else."""
        for table in manifest.tables:
            self.tables[table.name].grant_read_write_data(role)
        for bucket in manifest.buckets:
            self.buckets[bucket.name].grant_read_write(role)  # and presigned uploads, which its credentials sign
        for secret in manifest.secrets:
            self.secrets[secret.name].grant_read(role)
        for catalog in manifest.catalogs:
            workgroup = cdk.Stack.of(self).format_arn(service="athena", resource="workgroup",
                                                      resource_name=self.workgroups[catalog.name].name)
            database = catalog.database_name(self.prefix)
            glue_arns = [cdk.Stack.of(self).format_arn(service="glue", resource=kind, resource_name=name)
                         for kind, name in (("database", database), ("table", f"{database}/*"))]
            role.add_to_principal_policy(iam.PolicyStatement(actions=_ATHENA_QUERIES, resources=[workgroup]))
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=_GLUE_TABLES, resources=[cdk.Stack.of(self).format_arn(service="glue", resource="catalog"),
                                                 *glue_arns]))
        for topic in manifest.topics:
            self.topics[topic.name].grant_publish(role)
        if "email" in manifest.direct_messages:
            role.add_to_principal_policy(iam.PolicyStatement(actions=["ses:SendEmail"], resources=["*"]))
        if "sms" in manifest.direct_messages:  # IAM names no resource for a phone number
            role.add_to_principal_policy(iam.PolicyStatement(actions=["sns:Publish"], not_resources=["arn:aws:sns:*"]))

    def grant_exports(self, role: iam.IRole, manifest: ServiceManifest) -> None:
        """Writing its exports' files, under their prefixes of the exports bucket, and nothing else of it (rebuilds,
        which list and delete, run with the operator's credentials: `csms analytics export`)."""
        if EXPORTS_BUCKET not in self.buckets:
            raise ValueError(f"{manifest.name} exports, but no manifest of the stack owns the {EXPORTS_BUCKET!r} bucket "
                             "(analytics does)")
        bucket = self.buckets[EXPORTS_BUCKET]
        prefixes = sorted({e.export for e in manifest.exporters})
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:PutObject"], resources=[bucket.arn_for_objects(f"{p}/*") for p in prefixes]))

    def environment(self) -> dict[str, str]:
        """What functions read to find the buckets, whose names AWS chose (services/shared/aws.py `bucket`), and
        the topics (`topic_arn`)."""
        return ({f"CSMS_BUCKET_{environment_key(name)}": bucket.bucket_name for name, bucket in self.buckets.items()}
                | {f"CSMS_TOPIC_{environment_key(name)}": topic.topic_arn for name, topic in self.topics.items()})

    def table(self, table: Table, streamed: bool = False, scope: Construct | None = None) -> dynamodb.Table:
        """`streamed`: a stream although no relay reads it (an exporter does)."""
        construct = dynamodb.Table(
            scope or self, f"Table-{table.name}",
            table_name=f"{self.prefix}{table.name}",
            partition_key=_attribute(table.partition_key),
            sort_key=_attribute(table.sort_key) if table.sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True),
            time_to_live_attribute=table.ttl_attribute,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES if table.stream or streamed else None,
            deletion_protection=self.retain,
            removal_policy=self.removal,
        )
        for index in table.indexes:
            construct.add_global_secondary_index(
                index_name=index.name, partition_key=_attribute(index.partition_key),
                sort_key=_attribute(index.sort_key) if index.sort_key else None,
                projection_type=dynamodb.ProjectionType.KEYS_ONLY if index.keys_only else dynamodb.ProjectionType.ALL)
        self.tables[table.name] = construct
        return construct

    def bucket(self, bucket: Bucket) -> s3.Bucket:
        rules = [s3.LifecycleRule(id="old-versions", noncurrent_version_expiration=cdk.Duration.days(30)),
                 s3.LifecycleRule(id="unfinished", abort_incomplete_multipart_upload_after=cdk.Duration.days(7))]
        rules += [s3.LifecycleRule(id=e.prefix.strip("/"), prefix=e.prefix, expiration=cdk.Duration.days(e.days))
                  for e in bucket.expiries]
        if bucket.infrequent_after_days:
            rules.append(s3.LifecycleRule(id="infrequent", transitions=[s3.Transition(
                storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                transition_after=cdk.Duration.days(bucket.infrequent_after_days))]))
        construct = s3.Bucket(self, camel(bucket.name), encryption=s3.BucketEncryption.S3_MANAGED, versioned=True,
                              enforce_ssl=True, block_public_access=s3.BlockPublicAccess.BLOCK_ALL, lifecycle_rules=rules,
                              removal_policy=self.removal, auto_delete_objects=not self.retain)
        self.buckets[bucket.name] = construct
        return construct

    def secret(self, secret: Secret) -> secretsmanager.Secret:
        """Created with a random placeholder; the operator puts the real value (docs/deploy.md)."""
        construct = secretsmanager.Secret(self, camel(secret.name), secret_name=f"{self.secret_prefix}{secret.name}",
                                          description=secret.description, removal_policy=self.removal)
        self.secrets[secret.name] = construct
        return construct

    def topic(self, topic: Topic) -> sns.Topic:
        construct = sns.Topic(self, f"Topic-{topic.name}", topic_name=f"{self.prefix}{topic.name}",
                              display_name=topic.description[:100], enforce_ssl=True)
        self.topics[topic.name] = construct
        return construct

    def catalog(self, catalog: Catalog) -> athena.CfnWorkGroup:
        database = glue.CfnDatabase(self, f"Catalog-{catalog.name}", catalog_id=cdk.Aws.ACCOUNT_ID,
                                    database_input=glue.CfnDatabase.DatabaseInputProperty(
                                        name=catalog.database_name(self.prefix),
                                        description=f"csms {catalog.name} (Parquet)"))
        if catalog.bucket == EXPORTS_BUCKET:
            for table in TABLES:
                self.export_table(catalog, table).node.add_dependency(database)
        workgroup = athena.CfnWorkGroup(
            self, f"Workgroup-{catalog.name}", name=f"{self.prefix}{catalog.name}", recursive_delete_option=not self.retain,
            description=f"csms {catalog.name}: queries over the {catalog.bucket} bucket",
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=catalog.scan_limit_gb * 1024**3,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.buckets[catalog.bucket].bucket_name}/{catalog.results_prefix}",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"))))
        self.workgroups[catalog.name] = workgroup
        return workgroup

    def export_table(self, catalog: Catalog, table: ExportTable) -> glue.CfnTable:
        """An export table over `<bucket>/<table>/dt=YYYY-MM-DD/*.parquet`: Athena learns the partitions from the
        projection on `dt` (every day since EXPORTS_SINCE), so a new day needs nothing done."""
        location = f"s3://{self.buckets[catalog.bucket].bucket_name}/{table.name}"
        return glue.CfnTable(
            self, f"ExportTable-{table.name}", catalog_id=cdk.Aws.ACCOUNT_ID,
            database_name=catalog.database_name(self.prefix),
            table_input=glue.CfnTable.TableInputProperty(
                name=table.name, description=table.description[:2048], table_type="EXTERNAL_TABLE",
                partition_keys=[_glue_column(PARTITION_COLUMN)],
                parameters={"classification": "parquet", "EXTERNAL": "TRUE", "parquet.compression": "ZSTD",
                            "projection.enabled": "true", "projection.dt.type": "date",
                            "projection.dt.format": "yyyy-MM-dd", "projection.dt.range": f"{EXPORTS_SINCE},NOW",
                            "projection.dt.interval": "1", "projection.dt.interval.unit": "DAYS",
                            "storage.location.template": f"{location}/dt=${{dt}}/"},
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=[_glue_column(c) for c in table.columns], location=f"{location}/",
                    input_format=_PARQUET["input_format"], output_format=_PARQUET["output_format"],
                    serde_info=glue.CfnTable.SerdeInfoProperty(serialization_library=_PARQUET["serde"]))))

    def named_queries(self, catalog: Catalog, files: list[Path]) -> None:
        """Each file a named query of the catalog's workgroup, by the file's name; its first comment line (`-- ...`)
        describes it."""
        workgroup = self.workgroups[catalog.name]
        if files and self._queries is None:
            # A nested stack of their own: a dozen resources the parent's budget needs more (docs/deploy.md), and
            # named queries may move between stacks (their names need not be unique).
            self._queries = cdk.NestedStack(cdk.Stack.of(self), "AnalyticsQueries", description="csms saved queries")
        for path in files:
            text = path.read_text(encoding="utf-8")
            comment = next((line.removeprefix("--").strip() for line in text.splitlines() if line.startswith("--")), "")
            query = athena.CfnNamedQuery(self._queries, f"Query-{catalog.name}-{path.stem}", name=path.stem,
                                         database=catalog.database_name(self.prefix), query_string=text,
                                         description=(comment or path.stem)[:1024], work_group=workgroup.name)
            query.node.add_dependency(workgroup)


def _glue_column(column: Column) -> glue.CfnTable.ColumnProperty:
    """Glue's (Hive's) names of the columns' types are the contract's; the comment is the meaning and unit."""
    comment = f"{column.meaning} ({column.unit})" if column.unit else column.meaning
    return glue.CfnTable.ColumnProperty(name=column.name, type=column.type, comment=comment[:255])
