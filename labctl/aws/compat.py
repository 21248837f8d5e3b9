"""Compatibility layer between moto (pinned in pyproject) and the hashicorp/aws provider 5.x.

Each fix below closes one gap found by running the real provider against moto 5.2.1 (and still
present in 5.2.5). Every fix has a test in tests/integration/test_emulator_compat.py that fails
without it. ``apply()`` is idempotent and only ever runs inside the emulator process.

1. IAM: AWS-managed policies (AmazonEKSClusterPolicy, ...) exist only when moto is told to load
   them; the EKS modules attach them by ARN.
2. Budgets: DescribeSubscribersForNotification, ListTagsForResource, TagResource, UntagResource
   and UpdateBudget are missing; the provider calls them on every read/update.
3. EKS: DescribeCluster drops ``accessConfig`` (perpetual diff -> replacement) and every node
   group reports an invented ``remoteAccess`` block (perpetual replacement).
4. EC2: CreateLaunchTemplate copies the top-level ``launch-template`` tag specification into the
   template data (perpetual diff on tag_specifications).
5. EKS: the OIDC issuer id is generated once per process, so a second cluster's OIDC provider
   collides with the first; each cluster gets its own issuer here.
6. EKS: node groups have no Auto Scaling group behind them; the node-group module tags that ASG
   for the cluster-autoscaler. We create it (min 0, desired 0: instances are launched by the
   simulated cluster, not by moto) and delete it with the node group.
7. EKS: DescribeUpdate is missing, so the provider cannot wait for UpdateNodegroupConfig (a team
   changing a node group's size or bounds); updates are recorded and reported as they completed.
8. EC2: DeleteLaunchTemplate of an id that is already gone answers
   InvalidLaunchTemplateName.NotFoundException where AWS answers InvalidLaunchTemplateId.NotFound,
   the code the provider treats as "already deleted"; a destroy that meets a template already gone
   then fails instead of carrying on (seen once in a 30-team teardown).
9. EKS: UpdateNodegroupVersion is missing (answered 404), so a node group whose launch template
   gets a new version (a team changing its pool's disk size) cannot be updated; the node group
   now records the new template version, and the update is reported as completed (fix 7).
10. EKS: UpdateClusterConfig answers the cluster instead of an update (the provider then has no
   update to wait for and fails) and replaces the whole VPC config with the few fields sent, so
   the cluster loses its subnets (then a perpetual replacement). A cohort that changes
   ``api_access_cidrs`` after ``up`` sends exactly that; the fields sent are now merged and the
   update is reported as completed (fix 7).

The last three change no answer, only what an answer costs: each was found by sampling the
emulator (py-spy) during an 8-team `up`, where together they were a quarter of its CPU
(bench/README.md, "The emulator's CPU").

11. EKS: every CreateCluster and CreateNodegroup checks the role ARN's partition against a new
   boto3 Session's partition list, which loads botocore's endpoint data from JSON each time
   (~60 ms, 15 % of the emulator's CPU); the list is read once.
12. Every request asks whether its host names a moto service by listing moto's package directory
   (os.listdir and a stat per entry, 5 %); the list is read once.
13. KMS: every key, symmetric ones included, gets a freshly generated RSA-2048 private key that
   only Sign, Verify and GetPublicKey of an asymmetric key ever use (5 %); it is generated on
   first use.
"""

from __future__ import annotations

import json
from typing import Any

_APPLIED = False
_BUDGET_TAGS: dict[str, dict[str, str]] = {}


def apply() -> None:
    global _APPLIED
    if _APPLIED:
        return
    _iam_managed_policies()
    _budgets()
    _eks_access_config_and_remote_access()
    _launch_template_tag_specs()
    _eks_issuer_per_cluster()
    _eks_nodegroup_asg()
    _eks_describe_update()
    _launch_template_not_found_code()
    _eks_update_nodegroup_version()
    _eks_update_cluster_config()
    _eks_role_arn_partitions_once()
    _moto_modules_once()
    _kms_private_key_on_first_use()
    _APPLIED = True


# 1 -------------------------------------------------------------------------------------------
def _iam_managed_policies() -> None:
    from moto.core.config import default_user_config

    default_user_config["iam"] = {"load_aws_managed_policies": True}


# 2 -------------------------------------------------------------------------------------------
def _budgets() -> None:
    from moto.budgets.exceptions import NotFoundException
    from moto.budgets.responses import BudgetsResponse

    def _budget(self: Any, account_id: str, name: str) -> Any:
        try:
            return self.backend.budgets[account_id][name]
        except KeyError:
            raise NotFoundException(f"Unable to get budget: {name} - the budget doesn't exist.") from None

    def describe_subscribers_for_notification(self: Any) -> str:
        budget = _budget(self, self._get_param("AccountId"), self._get_param("BudgetName"))
        wanted = self._get_param("Notification")
        for n in budget.notifications:
            if n.details == wanted:
                return json.dumps({"Subscribers": n.subscribers})
        raise NotFoundException("Unable to find notification")

    def update_budget(self: Any) -> str:
        budget = _budget(self, self._get_param("AccountId"), self._get_param("NewBudget")["BudgetName"])
        new = self._get_param("NewBudget")
        budget.budget.update(new)
        return json.dumps({})

    def list_tags_for_resource(self: Any) -> str:
        tags = _BUDGET_TAGS.get(self._get_param("ResourceARN"), {})
        return json.dumps({"ResourceTags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]})

    def tag_resource(self: Any) -> str:
        tags = _BUDGET_TAGS.setdefault(self._get_param("ResourceARN"), {})
        for t in self._get_param("ResourceTags") or []:
            tags[t["Key"]] = t["Value"]
        return json.dumps({})

    def untag_resource(self: Any) -> str:
        tags = _BUDGET_TAGS.setdefault(self._get_param("ResourceARN"), {})
        for k in self._get_param("ResourceTagKeys") or []:
            tags.pop(k, None)
        return json.dumps({})

    original_create = BudgetsResponse.create_budget
    original_delete = BudgetsResponse.delete_budget

    def create_budget(self: Any) -> str:
        out = original_create(self)
        tags = self._get_param("ResourceTags") or []
        if tags:
            arn = f"arn:aws:budgets::{self._get_param('AccountId')}:budget/{self._get_param('Budget')['BudgetName']}"
            _BUDGET_TAGS[arn] = {t["Key"]: t["Value"] for t in tags}
        return out

    def delete_budget(self: Any) -> str:
        out = original_delete(self)
        arn = f"arn:aws:budgets::{self._get_param('AccountId')}:budget/{self._get_param('BudgetName')}"
        _BUDGET_TAGS.pop(arn, None)
        return out

    BudgetsResponse.describe_subscribers_for_notification = describe_subscribers_for_notification
    BudgetsResponse.update_budget = update_budget
    BudgetsResponse.list_tags_for_resource = list_tags_for_resource
    BudgetsResponse.tag_resource = tag_resource
    BudgetsResponse.untag_resource = untag_resource
    BudgetsResponse.create_budget = create_budget
    BudgetsResponse.delete_budget = delete_budget


# 3 -------------------------------------------------------------------------------------------
def _eks_access_config_and_remote_access() -> None:
    from moto.eks import models
    from moto.eks.responses import EKSResponse

    original_create_cluster = EKSResponse.create_cluster

    def create_cluster(self: Any) -> Any:
        result = original_create_cluster(self)
        access = self._get_param("accessConfig") or {}
        cluster = self.eks_backend.clusters[self._get_param("name")]
        cluster.access_config = {
            "authenticationMode": access.get("authenticationMode", "CONFIG_MAP"),
            "bootstrapClusterCreatorAdminPermissions": access.get("bootstrapClusterCreatorAdminPermissions", True),
        }
        return result

    EKSResponse.create_cluster = create_cluster

    original_ng_init = models.Nodegroup.__init__

    def ng_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_ng_init(self, *args, **kwargs)
        if not kwargs.get("remote_access"):
            self.remote_access = None
            self.resources.pop("remoteAccessSecurityGroup", None)

    models.Nodegroup.__init__ = ng_init


# 4 -------------------------------------------------------------------------------------------
def _launch_template_tag_specs() -> None:
    from moto.ec2.responses.launch_templates import LaunchTemplates

    original = LaunchTemplates.create_launch_template

    def create_launch_template(self: Any) -> Any:
        # What the caller put in the template data itself, read before moto mutates it.
        requested = {ts.get("ResourceType") for ts in (self._get_param("LaunchTemplateData", {}) or {}).get("TagSpecifications", [])}
        result = original(self)
        name = self._get_param("LaunchTemplateName")
        template = self.ec2_backend.describe_launch_templates(template_names=[name])[0]
        for version in template.versions:
            specs = version.data.get("TagSpecifications")
            if specs:
                version.data["TagSpecifications"] = [
                    s for s in specs if s.get("ResourceType") != "launch-template" or "launch-template" in requested
                ]
        return result

    LaunchTemplates.create_launch_template = create_launch_template


# 5 -------------------------------------------------------------------------------------------
def _eks_issuer_per_cluster() -> None:
    from moto.eks import models
    from moto.moto_api._internal import mock_random as random

    original = models.Cluster.__init__

    def cluster_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        region = kwargs.get("region_name") or self.arn.split(":")[3]
        issuer = f"https://oidc.eks.{region}.amazonaws.com/id/{random.get_random_hex(32).upper()}"
        self.identity = {"oidc": {"issuer": issuer}}

    models.Cluster.__init__ = cluster_init


# 6 -------------------------------------------------------------------------------------------
def _eks_nodegroup_asg() -> None:
    from moto.autoscaling.models import autoscaling_backends
    from moto.eks import models

    original_create = models.EKSBackend.create_nodegroup
    original_delete = models.EKSBackend.delete_nodegroup
    original_update = models.EKSBackend.update_nodegroup_config

    def _asg_backend(self: Any) -> Any:
        return autoscaling_backends[self.account_id][self.region_name]

    def create_nodegroup(self: Any, *args: Any, **kwargs: Any) -> Any:
        ng = original_create(self, *args, **kwargs)
        lt = ng.launch_template or {}
        if not lt.get("id"):
            # Like EKS, give a node group without a launch template one of its own.
            from moto.ec2.models import ec2_backends

            tpl = ec2_backends[self.account_id][self.region_name].create_launch_template(
                f"eks-{ng.uuid}", "created by EKS for the node group", {"InstanceType": ng.instance_types[0]}, {})
            lt = {"id": tpl.id, "version": "1", "_eks_owned": True}
            ng.eks_launch_template_id = tpl.id
        scaling = ng.scaling_config or {}
        tags = [
            {"ResourceId": ng.resources["autoScalingGroups"][0]["name"], "ResourceType": "auto-scaling-group",
             "Key": f"eks:{k}", "Value": v, "PropagateAtLaunch": "true"}
            for k, v in (("cluster-name", ng.cluster_name), ("nodegroup-name", ng.nodegroup_name))
        ]
        _asg_backend(self).create_auto_scaling_group(
            name=ng.resources["autoScalingGroups"][0]["name"],
            availability_zones=[],
            desired_capacity=0,
            max_size=int(scaling.get("maxSize", 1)),
            min_size=0,
            launch_config_name=None,  # type: ignore[arg-type]
            launch_template={"LaunchTemplateId": lt["id"], "Version": str(lt.get("version") or "$Default")} if lt.get("id") else None,  # type: ignore[arg-type]
            vpc_zone_identifier=",".join(ng.subnets),
            default_cooldown=None,
            health_check_period=None,
            health_check_type=None,
            load_balancers=[],
            target_group_arns=[],
            placement_group=None,
            termination_policies=[],
            tags=tags,
        )
        return ng

    def delete_nodegroup(self: Any, cluster_name: str, nodegroup_name: str) -> Any:
        ng = original_delete(self, cluster_name, nodegroup_name)
        owned = getattr(ng, "eks_launch_template_id", None)
        if owned:
            from moto.ec2.models import ec2_backends

            ec2_backends[self.account_id][self.region_name].delete_launch_template(None, owned)
        for asg in ng.resources.get("autoScalingGroups", []):
            backend = _asg_backend(self)
            if asg["name"] in backend.autoscaling_groups:
                group = backend.autoscaling_groups[asg["name"]]
                group.set_desired_capacity(0)
                backend.delete_auto_scaling_group(asg["name"])
        return ng

    def update_nodegroup_config(self: Any, cluster_name: str, nodegroup_name: str, *args: Any, **kwargs: Any) -> Any:
        out = original_update(self, cluster_name, nodegroup_name, *args, **kwargs)
        scaling = kwargs.get("scaling_config")
        ng = self.clusters[cluster_name].nodegroups[nodegroup_name]
        backend = _asg_backend(self)
        for asg in ng.resources.get("autoScalingGroups", []):
            group = backend.autoscaling_groups.get(asg["name"])
            if group is not None and scaling and "maxSize" in scaling:
                group.max_size = int(scaling["maxSize"])
        return out

    models.EKSBackend.create_nodegroup = create_nodegroup
    models.EKSBackend.delete_nodegroup = delete_nodegroup
    models.EKSBackend.update_nodegroup_config = update_nodegroup_config


# 7 -------------------------------------------------------------------------------------------
_EKS_UPDATES: dict[str, dict[str, Any]] = {}


def _eks_describe_update() -> None:
    from moto.core.responses import ActionResult
    from moto.eks import urls
    from moto.eks.exceptions import ResourceNotFoundException
    from moto.eks.responses import EKSResponse

    original = EKSResponse.update_nodegroup_config

    def update_nodegroup_config(self: Any) -> Any:
        result = original(self)
        update = result.result["update"]
        _EKS_UPDATES[update["id"]] = update
        return result

    def describe_update(self: Any) -> Any:
        update_id = self._get_param("updateId")
        if update_id not in _EKS_UPDATES:
            raise ResourceNotFoundException(clusterName=self._get_param("name"), nodegroupName=None,
                                            fargateProfileName=None, addonName=None,
                                            message=f"No update found for ID: {update_id}")
        return ActionResult({"update": _EKS_UPDATES[update_id]})

    EKSResponse.update_nodegroup_config = update_nodegroup_config
    EKSResponse.describe_update = describe_update
    urls.url_paths["{0}/clusters/(?P<name>[^/]+)/updates/(?P<updateId>[^/]+)$"] = urls.response.dispatch


# 8 -------------------------------------------------------------------------------------------
def _launch_template_not_found_code() -> None:
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.responses.launch_templates import LaunchTemplates

    original = LaunchTemplates.delete_launch_template

    def delete_launch_template(self: Any) -> Any:
        tid = self._get_param("LaunchTemplateId")
        if tid and not self._get_param("LaunchTemplateName") and tid not in self.ec2_backend.launch_templates:
            raise EC2ClientError("InvalidLaunchTemplateId.NotFound",
                                 f"The specified launch template, with template ID {tid}, does not exist.")
        return original(self)

    LaunchTemplates.delete_launch_template = delete_launch_template


# 9 -------------------------------------------------------------------------------------------
def _eks_update_nodegroup_version() -> None:
    import uuid
    from datetime import datetime, timezone

    from moto.core.responses import ActionResult
    from moto.eks import urls
    from moto.eks.exceptions import InvalidParameterException, ResourceNotFoundException
    from moto.eks.responses import EKSResponse

    def update_nodegroup_version(self: Any) -> Any:
        cluster_name = self._get_param("name")
        nodegroup_name = self._get_param("nodegroupName")
        cluster = self.eks_backend.clusters.get(cluster_name)
        nodegroup = cluster.nodegroups.get(nodegroup_name) if cluster else None
        if nodegroup is None:
            raise ResourceNotFoundException(clusterName=cluster_name, nodegroupName=nodegroup_name,
                                            fargateProfileName=None, addonName=None,
                                            message=f"No node group found for name: {nodegroup_name}.")
        params = []
        template = self._get_param("launchTemplate")
        if template:
            current = nodegroup.launch_template or {}
            if template.get("id", current.get("id")) != current.get("id") or \
                    template.get("name", current.get("name")) != current.get("name"):
                # AWS: a node group keeps its launch template; only its version may change.
                raise InvalidParameterException(clusterName=cluster_name, nodegroupName=nodegroup_name,
                                                message="You cannot change the launch template of a node group.")
            nodegroup.launch_template = {**current, **{k: str(v) for k, v in template.items()}}
            params.append({"type": "LaunchTemplateVersion", "value": str(template.get("version", ""))})
        for key, attr, kind in (("version", "version", "Version"), ("releaseVersion", "release_version", "ReleaseVersion")):
            value = self._get_param(key)
            if value:
                setattr(nodegroup, attr, value)
                params.append({"type": kind, "value": value})
        update = {"id": str(uuid.uuid4()), "status": "Successful", "type": "VersionUpdate", "params": params,
                  "createdAt": datetime.now(timezone.utc), "errors": []}
        _EKS_UPDATES[update["id"]] = update
        return ActionResult({"update": update})

    EKSResponse.update_nodegroup_version = update_nodegroup_version
    urls.url_paths["{0}/clusters/(?P<name>[^/]+)/node-groups/(?P<nodegroupName>[^/]+)/update-version$"] = \
        urls.response.dispatch


# 10 ------------------------------------------------------------------------------------------
def _eks_update_cluster_config() -> None:
    import uuid
    from datetime import datetime, timezone

    from moto.core.responses import ActionResult
    from moto.eks.exceptions import ResourceNotFoundException
    from moto.eks.responses import EKSResponse

    def update_cluster_config(self: Any) -> Any:
        name = self._get_param("name")
        cluster = self.eks_backend.clusters.get(name)
        if cluster is None:
            raise ResourceNotFoundException(clusterName=name, nodegroupName=None, fargateProfileName=None,
                                            addonName=None, message=f"No cluster found for name: {name}.")
        params, kind = [], "EndpointAccessUpdate"
        vpc = self._get_param("resourcesVpcConfig") or {}
        if vpc:
            cluster.resources_vpc_config = {**(cluster.resources_vpc_config or {}), **vpc}
            for key, label in (("endpointPublicAccess", "EndpointPublicAccess"),
                               ("endpointPrivateAccess", "EndpointPrivateAccess"),
                               ("publicAccessCidrs", "PublicAccessCidrs")):
                if key in vpc:
                    params.append({"type": label, "value": json.dumps(vpc[key])})
        logging = self._get_param("logging")
        if logging:
            cluster.logging = logging
            kind = "LoggingUpdate"
            params.append({"type": "ClusterLogging", "value": json.dumps(logging)})
        update = {"id": str(uuid.uuid4()), "status": "Successful", "type": kind, "params": params,
                  "createdAt": datetime.now(timezone.utc), "errors": []}
        _EKS_UPDATES[update["id"]] = update
        return ActionResult({"update": update})

    EKSResponse.update_cluster_config = update_cluster_config


# 11 ------------------------------------------------------------------------------------------
def _eks_role_arn_partitions_once() -> None:
    import re

    from boto3 import Session
    from moto.eks import models
    from moto.eks.exceptions import InvalidParameterException

    partitions = frozenset(Session().get_available_partitions())
    role_arn = re.compile("arn:(?P<partition>.+):iam::(?P<account_id>[0-9]{12}):role/.+")

    def validate_role_arn(arn: str) -> None:        # moto.eks.utils.validate_role_arn, same answers
        match = role_arn.match(arn or "")
        if not (arn and match and match.group("partition") in partitions):
            raise InvalidParameterException(message="Invalid Role Arn: '" + str(arn) + "'")

    models.validate_role_arn = validate_role_arn


# 12 ------------------------------------------------------------------------------------------
def _moto_modules_once() -> None:
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules


# 13 ------------------------------------------------------------------------------------------
class _KeyOnFirstUse:
    """Stands in for a KMS key's private key until something uses it, then is that key."""

    def __init__(self, make: Any, key_spec: str) -> None:
        self._make, self._spec, self._key = make, key_spec, None

    def __getattr__(self, name: str) -> Any:
        if self._key is None:
            self._key = self._make(self._spec)
        return getattr(self._key, name)


def _kms_private_key_on_first_use() -> None:
    from moto.kms import models

    make = models.generate_private_key
    models.generate_private_key = lambda key_spec: _KeyOnFirstUse(make, key_spec)
