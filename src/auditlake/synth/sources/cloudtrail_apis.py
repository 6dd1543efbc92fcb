"""The AWS API calls the synthetic organisation makes, with weights: data, not logic.

Weights follow what real trails show: Describe/List/Get calls dominate every principal; humans
write a little; monitoring and AWS Config read a lot; KMS calls by AWS services are constant.
`params` is a shared, never-mutated `requestParameters` object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Api:
    """One API operation as CloudTrail names it; `params` is serialized once (`params_json`)."""

    source: str
    name: str
    read_only: bool
    params: Any = None
    denied: str = "AccessDenied"
    params_json: orjson.Fragment = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params_json", orjson.Fragment(orjson.dumps(self.params)))

    @property
    def service(self) -> str:
        return self.source.split(".", 1)[0]


def _ec2(name: str, params: Any = None, read_only: bool = True) -> Api:
    return Api("ec2.amazonaws.com", name, read_only, params, "Client.UnauthorizedOperation")


def _api(service: str, name: str, params: Any = None, read_only: bool = True) -> Api:
    return Api(f"{service}.amazonaws.com", name, read_only, params)


_EMPTY_SET: dict[str, Any] = {"instancesSet": {}, "filterSet": {}}
_MAX = {"maxResults": 100}

HUMAN_READS: tuple[tuple[float, Api], ...] = (
    (10, _ec2("DescribeInstances", _EMPTY_SET)),
    (5, _ec2("DescribeSecurityGroups", {"securityGroupSet": {}, "securityGroupIdSet": {}, "filterSet": {}})),
    (4, _ec2("DescribeVpcs", {"vpcSet": {}, "filterSet": {}})),
    (3, _ec2("DescribeSubnets", {"subnetSet": {}, "filterSet": {}})),
    (2, _ec2("DescribeVolumes", {"volumeSet": {}, "filterSet": {}})),
    (6, _api("sts", "GetCallerIdentity")),
    (5, _api("s3", "ListBuckets", {"Host": "s3.amazonaws.com"})),
    (3, _api("s3", "GetBucketLocation", {"location": "", "Host": "s3.amazonaws.com"})),
    (2, _api("s3", "GetBucketPolicy", {"policy": "", "Host": "s3.amazonaws.com"})),
    (3, _api("iam", "ListRoles", {"maxItems": 1000})),
    (2, _api("iam", "GetRole", {"roleName": "orders-api-task-role"})),
    (2, _api("iam", "ListAttachedRolePolicies", {"roleName": "orders-api-task-role"})),
    (1, _api("iam", "ListPolicies", {"scope": "Local", "onlyAttached": False})),
    (4, _api("lambda", "ListFunctions20150331")),
    (2, _api("lambda", "GetFunction20150331v2", {"functionName": "image-resizer"})),
    (6, _api("logs", "DescribeLogGroups", {"limit": 50})),
    (5, _api("logs", "FilterLogEvents", {"logGroupName": "/ecs/orders-api", "limit": 100})),
    (3, _api("logs", "GetLogEvents", {"logGroupName": "/aws/lambda/image-resizer", "startFromHead": False})),
    (5, _api("monitoring", "GetMetricData")),
    (3, _api("monitoring", "DescribeAlarms", _MAX)),
    (3, _api("eks", "DescribeCluster", {"name": "prod-eks-use1"})),
    (2, _api("eks", "ListClusters")),
    (2, _api("ecr", "DescribeRepositories", _MAX)),
    (2, _api("ecr", "GetAuthorizationToken")),
    (3, _api("rds", "DescribeDBInstances")),
    (2, _api("dynamodb", "ListTables")),
    (2, _api("dynamodb", "DescribeTable", {"tableName": "sessions"})),
    (1, _api("kms", "ListKeys")),
    (1, _api("kms", "DescribeKey", {"keyId": "alias/orders"})),
    (3, _api("ssm", "GetParameter", {"name": "/orders/prod/feature-flags", "withDecryption": False})),
    (2, _api("ssm", "DescribeParameters")),
    (1, _api("secretsmanager", "ListSecrets")),
    (1, _api("secretsmanager", "GetSecretValue", {"secretId": "prod/orders/db"})),
    (1, _api("cloudtrail", "LookupEvents", {"maxResults": 50})),
    (1, _api("cloudtrail", "DescribeTrails", {"includeShadowTrails": True})),
    (3, _api("ecs", "DescribeServices", {"cluster": "prod", "services": ["orders-api"]})),
    (2, _api("ecs", "ListTasks", {"cluster": "prod"})),
)

HUMAN_WRITES: tuple[tuple[float, Api], ...] = (
    (5, _ec2("CreateTags", read_only=False)),
    (3, _ec2("StartInstances", read_only=False)),
    (3, _ec2("StopInstances", read_only=False)),
    (1, _ec2("AuthorizeSecurityGroupIngress", read_only=False)),
    (1, _ec2("RunInstances", read_only=False)),
    (4, _api("lambda", "UpdateFunctionCode20150331v2", {"functionName": "image-resizer", "publish": True}, False)),
    (2, _api("logs", "CreateLogGroup", {"logGroupName": "/ecs/new-service"}, False)),
    (3, _api("ssm", "PutParameter", {"name": "/orders/staging/feature-flags", "type": "String", "overwrite": True}, False)),
    (4, _api("ecs", "UpdateService", {"cluster": "prod", "service": "orders-api", "forceNewDeployment": True}, False)),
    (2, _api("s3", "PutObject", None, False)),
    (1, _api("iam", "CreateRole", None, False)),
    (1, _api("iam", "AttachRolePolicy", None, False)),
    (1, _api("dynamodb", "UpdateTable", {"tableName": "sessions"}, False)),
)

MONITORING_READS: tuple[tuple[float, Api], ...] = (
    (30, _api("monitoring", "GetMetricData")),
    (10, _api("monitoring", "ListMetrics", {"namespace": "AWS/EC2"})),
    (6, _ec2("DescribeInstances", _EMPTY_SET)),
    (4, _ec2("DescribeVolumes", {"volumeSet": {}, "filterSet": {}})),
    (4, _api("elasticloadbalancing", "DescribeLoadBalancers")),
    (3, _api("rds", "DescribeDBInstances")),
    (3, _api("tagging", "GetResources", {"resourcesPerPage": 100})),
    (2, _api("lambda", "ListFunctions20150331")),
    (2, _api("sqs", "ListQueues")),
    (2, _api("elasticache", "DescribeCacheClusters")),
)

CONFIG_READS: tuple[tuple[float, Api], ...] = (
    (8, _ec2("DescribeSecurityGroups", {"securityGroupSet": {}, "securityGroupIdSet": {}, "filterSet": {}})),
    (6, _ec2("DescribeNetworkInterfaces", {"networkInterfaceIdSet": {}, "filterSet": {}})),
    (5, _ec2("DescribeInstances", _EMPTY_SET)),
    (4, _ec2("DescribeRouteTables", {"routeTableIdSet": {}, "filterSet": {}})),
    (5, _api("iam", "GetRole", {"roleName": "eks-node-group-role"})),
    (4, _api("iam", "GetPolicy")),
    (3, _api("iam", "ListAttachedRolePolicies", {"roleName": "eks-node-group-role"})),
    (5, _api("s3", "GetBucketAcl", {"acl": "", "Host": "s3.amazonaws.com"})),
    (4, _api("s3", "GetBucketEncryption", {"encryption": "", "Host": "s3.amazonaws.com"})),
    (3, _api("s3", "GetBucketVersioning", {"versioning": "", "Host": "s3.amazonaws.com"})),
    (3, _api("lambda", "GetFunction20150331v2", {"functionName": "invoice-export"})),
    (2, _api("kms", "GetKeyRotationStatus")),
)

SCANNER_READS: tuple[tuple[float, Api], ...] = (
    (5, _api("iam", "GetAccountAuthorizationDetails", {"maxItems": 1000})),
    (5, _api("iam", "ListUsers", {"maxItems": 1000})),
    (5, _api("iam", "ListAccessKeys")),
    (3, _api("iam", "GetAccountPasswordPolicy")),
    (5, _api("s3", "GetBucketPolicyStatus", {"policyStatus": "", "Host": "s3.amazonaws.com"})),
    (5, _api("s3", "GetPublicAccessBlock", {"publicAccessBlock": "", "Host": "s3.amazonaws.com"})),
    (4, _ec2("DescribeSnapshots", {"snapshotSet": {}, "ownersSet": {"items": [{"owner": "self"}]}})),
    (3, _api("cloudtrail", "GetTrailStatus", {"name": "org-trail"})),
    (3, _api("guardduty", "ListDetectors")),
)

TASK_CALLS: tuple[tuple[float, Api], ...] = (
    (5, _api("secretsmanager", "GetSecretValue", {"secretId": "prod/orders/db"})),
    (5, _api("ssm", "GetParameters", {"names": ["/orders/prod/feature-flags"], "withDecryption": True})),
    (3, _api("sqs", "GetQueueAttributes")),
    (2, _api("sts", "GetCallerIdentity")),
)

KMS_CALLS: tuple[tuple[float, Api], ...] = (
    (6, _api("kms", "Decrypt", {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"})),
    (3, _api("kms", "GenerateDataKey", {"keySpec": "AES_256"})),
)

TERRAFORM_READS: tuple[Api, ...] = (
    *(api for _, api in CONFIG_READS),
    _ec2("DescribeVpcs", {"vpcSet": {}, "filterSet": {}}),
    _ec2("DescribeSubnets", {"subnetSet": {}, "filterSet": {}}),
    _api("eks", "DescribeCluster", {"name": "prod-eks-use1"}),
    _api("rds", "DescribeDBInstances"),
    _api("iam", "GetRolePolicy", {"roleName": "orders-api-task-role", "policyName": "orders"}),
)

CI_DEPLOY: tuple[Api, ...] = (
    _api("ecr", "GetAuthorizationToken"),
    _api("ecr", "BatchCheckLayerAvailability", {"repositoryName": "orders-api"}),
    _api("ecr", "PutImage", {"repositoryName": "orders-api", "imageTag": "main"}, False),
    _api("ecs", "RegisterTaskDefinition", {"family": "orders-api"}, False),
    _api("ecs", "UpdateService", {"cluster": "prod", "service": "orders-api"}, False),
    _api("ecs", "DescribeServices", {"cluster": "prod", "services": ["orders-api"]}),
)
