"""A CloudFormation deployment engine on top of moto's resource models.

moto's own engine (``moto.cloudformation.parsing.ResourceMap``) creates resources lazily, skips types it
has no model for, replaces most resources on every update and keeps no per-resource status. This module
keeps moto's models, intrinsic functions (``clean_json``) and API layer, and replaces the lifecycle:

* resources are created in dependency order (``Ref``, ``Fn::GetAtt``, ``Fn::Sub`` and ``DependsOn``);
  a failure (an unknown type included) marks the resource ``CREATE_FAILED`` with the reason and rolls
  the stack back, as CloudFormation does;
* an update compares each resource's *resolved* properties with those it was deployed with: unchanged
  resources stay in place, changed ones are updated in place or replaced when a create-only property
  changed (create the new one first, delete the old one in the cleanup phase);
* template parameters of the ``AWS::SSM::Parameter::Value<...>`` types and ``{{resolve:ssm:...}}`` /
  ``{{resolve:secretsmanager:...}}`` dynamic references are resolved on every create and update;
* change sets are looked up per stack, missing ones answer ``ChangeSetNotFound``, and outputs and
  exports are evaluated after the resources exist.

References: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-update-behaviors.html
and https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references.html
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from moto.cloudformation.exceptions import AlreadyExistsException, CloudFormationError, ValidationError
from moto.cloudformation.models import ChangeSet, CloudFormationBackend, Event, Stack
from moto.cloudformation.parsing import (
    NULL_MODELS,
    ResourceMap,
    clean_json,
    generate_resource_name,
    get_model_map,
    resource_name_property_from_type,
)
from moto.cloudformation.utils import generate_changeset_id, generate_stack_id, validate_create_change_set
from moto.core.common_models import CloudFormationModel
from moto.core.utils import utcnow

from ._update_rules import create_only_properties, in_place_updater

__all__ = ["SandboxCloudFormationBackend", "install_engine"]

_SSM_PARAMETER_TYPE = re.compile(r"^AWS::SSM::Parameter::Value<(.+)>$")
_DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:(ssm|ssm-secure|secretsmanager):([^}]+)\}\}")
_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")
_NO_CHANGES = (
    "The submitted information didn't contain changes. Submit different information to create a change set."
)


class ChangeSetNotFound(CloudFormationError):
    """``DescribeChangeSet`` / ``ExecuteChangeSet`` on a change set that does not exist (HTTP 404)."""

    code = "ChangeSetNotFound"


class InvalidChangeSetStatus(CloudFormationError):
    code = "InvalidChangeSetStatus"


class ResourceFailure(Exception):
    """One resource could not be created, updated or deleted; ``reason`` is what CloudFormation shows."""

    def __init__(self, logical_id: str, reason: str) -> None:
        super().__init__(f"{logical_id}: {reason}")
        self.logical_id = logical_id
        self.reason = reason


# -- template analysis ---------------------------------------------------------------------------------
def references(node: Any) -> set[str]:
    """Logical ids (resources, parameters, pseudo parameters) a template fragment refers to."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".", 1)[0]
                found.add(str(target))
            elif key == "Fn::Sub":
                template, variables = (value[0], value[1]) if isinstance(value, list) else (value, {})
                local = set(variables) if isinstance(variables, dict) else set()
                if isinstance(template, str):
                    for name in _SUB_VARIABLE.findall(template):
                        base = name.split(".", 1)[0]
                        if base not in local:
                            found.add(base)
                found |= references(variables)
            else:
                found |= references(value)
    elif isinstance(node, list):
        for item in node:
            found |= references(item)
    return found


def dependencies(resources: dict[str, Any]) -> dict[str, set[str]]:
    """For each resource, the resources it must come after."""
    graph: dict[str, set[str]] = {}
    for logical_id, body in resources.items():
        deps = references({k: v for k, v in body.items() if k != "DependsOn"}) & set(resources)
        depends_on = body.get("DependsOn") or []
        deps |= {depends_on} if isinstance(depends_on, str) else set(depends_on)
        deps.discard(logical_id)
        unknown = deps - set(resources)
        if unknown:
            raise ValidationError(
                message=f"Template format error: Unresolved resource dependencies {sorted(unknown)} "
                f"in the Resources block of the template"
            )
        graph[logical_id] = deps
    return graph


def creation_order(resources: dict[str, Any]) -> list[str]:
    """Topological order (template order among independent resources); cycles are a template error."""
    graph = dependencies(resources)
    order: list[str] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(node: str, path: tuple[str, ...]) -> None:
        if node in done:
            return
        if node in visiting:
            cycle = path[path.index(node) :]
            raise ValidationError(message=f"Circular dependency between resources: {sorted(cycle)}")
        visiting.add(node)
        for dep in sorted(graph[node], key=list(resources).index):
            visit(dep, (*path, node))
        visiting.discard(node)
        done.add(node)
        order.append(node)

    for logical_id in resources:
        visit(logical_id, ())
    return order


def model_class(resource_type: str) -> type[CloudFormationModel] | None:
    """The model for a type; ``None`` for the no-op types moto ignores on purpose (wait conditions)."""
    if resource_type in NULL_MODELS:
        return None
    if resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource":
        from ._models import CustomResource

        return CustomResource
    model = get_model_map().get(resource_type)
    if model is None:
        raise KeyError(resource_type)
    return model


# -- dynamic references --------------------------------------------------------------------------------
def resolve_dynamic_references(value: Any, account_id: str, region: str) -> Any:
    """Replace ``{{resolve:service:...}}`` in every string of ``value``.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-ssm.html and
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-secretsmanager.html
    """
    if isinstance(value, dict):
        return {k: resolve_dynamic_references(v, account_id, region) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_dynamic_references(v, account_id, region) for v in value]
    if isinstance(value, str) and "{{resolve:" in value:
        return _DYNAMIC_REFERENCE.sub(
            lambda m: _resolve_one(m.group(1), m.group(2), account_id, region), value
        )
    return value


def _resolve_one(service: str, reference: str, account_id: str, region: str) -> str:
    if service in ("ssm", "ssm-secure"):
        from moto.ssm.models import ssm_backends

        name, _, version = reference.partition(":")
        backend = ssm_backends[account_id][region]
        parameter = backend.get_parameter(f"{name}:{version}" if version else name)
        if parameter is None:
            raise ValueError(f"SSM parameter {name} (dynamic reference) does not exist")
        return str(parameter.value)
    from moto.secretsmanager.models import secretsmanager_backends

    # secret-id:SecretString:json-key:version-stage:version-id (the secret id may itself be an ARN)
    parts = reference.split(":")
    if reference.startswith("arn:"):
        secret_id, rest = ":".join(parts[:7]), parts[7:]
    else:
        secret_id, rest = parts[0], parts[1:]
    rest += [""] * (4 - len(rest))
    _, json_key, stage, version_id = rest[:4]
    secret = secretsmanager_backends[account_id][region].get_secret_value(
        secret_id,
        version_id or None,  # type: ignore[arg-type]
        stage or None,  # type: ignore[arg-type]
    )
    secret_string = str(secret.get("SecretString") or "")
    if json_key:
        try:
            return str(json.loads(secret_string)[json_key])
        except (ValueError, KeyError) as exc:
            raise ValueError(f"secret {secret_id} has no JSON key {json_key}") from exc
    return secret_string


# -- the resource map ----------------------------------------------------------------------------------
class SandboxResourceMap(ResourceMap):
    """Resources of one stack, created and updated eagerly in dependency order."""

    def __init__(self, *args: Any, stack: SandboxStack, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stack = stack
        #: logical id -> the resolved resource JSON (Type, Properties, ...) it was deployed with
        self.applied: dict[str, dict[str, Any]] = {}
        #: logical id -> (status, reason)
        self.statuses: dict[str, tuple[str, str | None]] = {}
        self._resolved_values: dict[str, Any] = {}

    # moto creates resources lazily from ``__getitem__``; here every resource is created explicitly
    def __getitem__(self, key: str) -> Any:
        if key in self._parsed_resources:
            return self._parsed_resources[key]
        if key in self._resource_json_map:
            return None  # not created (yet, or a false Condition)
        raise KeyError(key)

    def __iter__(self) -> Any:
        return iter([k for k in self._resource_json_map if k in self._parsed_resources])

    def values(self) -> Any:  # type: ignore[override]
        return [self._parsed_resources[k] for k in self._resource_json_map if k in self._parsed_resources]

    # -- parameters ------------------------------------------------------------------------------
    def load_parameters(self) -> None:
        """Resolve parameters; ``resolved_parameters`` keeps the values as given (an SSM parameter's
        *name*, as ``DescribeStacks`` shows it), the resolved values go to ``Ref``."""
        slots = self._template.get("Parameters") or {}
        shown: dict[str, Any] = {}
        self.no_echo_parameter_keys = []
        for name, slot in slots.items():
            value = self.input_parameters.get(name, slot.get("Default"))
            if value is None:
                raise ValidationError(message=f"Parameters: [{name}] must have values")
            shown[name] = value
            self._resolved_values[name] = self._resolve_parameter(
                name, str(value), slot.get("Type", "String")
            )
            if slot.get("NoEcho"):
                self.no_echo_parameter_keys.append(name)
        self.resolved_parameters = shown
        self._parsed_resources.update(self._resolved_values)

    def _resolve_parameter(self, name: str, value: str, value_type: str) -> Any:
        ssm_type = _SSM_PARAMETER_TYPE.match(value_type)
        if ssm_type:
            from moto.ssm.models import ssm_backends

            parameter = ssm_backends[self._account_id][self._region_name].get_parameter(value)
            if parameter is None:
                # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html#aws-ssm-parameter-types
                raise ValidationError(
                    message=f"Unable to fetch parameters [{value}] from parameter store for this account."
                )
            value, value_type = str(parameter.value), ssm_type.group(1)
        if value_type == "CommaDelimitedList" or value_type.startswith("List<"):
            items = [item.strip() for item in value.split(",")] if value else []
            return [_number(i) for i in items] if value_type == "List<Number>" else items
        if value_type == "Number":
            return _number(value)
        return value

    def validate_outputs(self) -> None:
        # Outputs are validated by evaluating them after the resources exist.
        return None

    # -- one resource ------------------------------------------------------------------------------
    def resolve(self, logical_id: str) -> tuple[type[CloudFormationModel] | None, dict[str, Any]]:
        """The model class and the resolved JSON of a resource of the current template."""
        body = copy.deepcopy(self._resource_json_map[logical_id])
        resource_type = body["Type"]
        try:
            model = model_class(resource_type)
        except KeyError:
            raise ResourceFailure(
                logical_id,
                f"Resource type {resource_type} (logical id {logical_id}) is not supported by the "
                f"notification-constructs sandbox: it has no model for it",
            ) from None
        try:
            properties = clean_json(body.get("Properties") or {}, self)
            properties = resolve_dynamic_references(properties, self._account_id, self._region_name)
        except (ValueError, KeyError, TypeError, IndexError, CloudFormationError) as exc:
            raise ResourceFailure(logical_id, f"could not resolve the properties: {_describe(exc)}") from exc
        body["Properties"] = properties
        return model, body

    def physical_name(self, logical_id: str, resolved: dict[str, Any]) -> str:
        resource_type = resolved["Type"]
        name_property = resource_name_property_from_type(resource_type)
        if name_property and name_property in resolved["Properties"]:
            return str(resolved["Properties"][name_property])
        return generate_resource_name(resource_type, self.stack.name, logical_id)

    def create_one(self, logical_id: str) -> None:
        model, resolved = self.resolve(logical_id)
        resource_type = resolved["Type"]
        self._event(logical_id, "CREATE_IN_PROGRESS", None, resource_type)
        if model is None:
            self._parsed_resources[logical_id] = _NullResource(logical_id, resource_type)
        else:
            try:
                # moto's models may mutate what they are given (the DynamoDB table model does): keep
                # ``applied`` exactly as resolved, so a later update compares like with like.
                resource = model.create_from_cloudformation_json(
                    self.physical_name(logical_id, resolved),
                    copy.deepcopy(resolved),
                    self._account_id,
                    self._region_name,
                    LogicalId=logical_id,
                    StackId=self.stack_id,
                    ResourceType=resource_type,
                )
            except Exception as exc:
                raise ResourceFailure(logical_id, _describe(exc)) from exc
            resource.cf_resource_type = resource_type
            resource.logical_resource_id = logical_id
            if resource_type == "AWS::IAM::Policy":
                # moto keeps an absent Roles / Users / Groups as None, and deleting any role of the account
                # later iterates over every policy's role names ("'NoneType' object is not iterable").
                for attribute in ("role_names", "user_names", "group_names"):
                    if getattr(resource, attribute, []) is None:
                        setattr(resource, attribute, [])
            self._parsed_resources[logical_id] = resource
        self.applied[logical_id] = resolved
        self._event(logical_id, "CREATE_COMPLETE", None, resource_type)

    def delete_one(self, logical_id: str, resource: Any, resolved: dict[str, Any]) -> None:
        resource_type = resolved["Type"]
        self._event(logical_id, "DELETE_IN_PROGRESS", None, resource_type, resource)
        if not isinstance(resource, _NullResource):
            try:
                self._delete_resource(resource, resolved)
            except Exception as exc:
                self._event(logical_id, "DELETE_FAILED", _describe(exc), resource_type, resource)
                raise ResourceFailure(logical_id, _describe(exc)) from exc
        self._event(logical_id, "DELETE_COMPLETE", None, resource_type, resource)

    def _event(
        self, logical_id: str, status: str, reason: str | None, resource_type: str, resource: Any = None
    ) -> None:
        self.statuses[logical_id] = (status, reason)
        resource = resource if resource is not None else self._parsed_resources.get(logical_id)
        physical = getattr(resource, "physical_resource_id", None) or ""
        self.stack.add_resource_event(logical_id, str(physical), resource_type, status, reason)

    # -- stack operations ----------------------------------------------------------------------------
    def create(self, template: dict[str, Any]) -> bool:
        """Create every resource; on the first failure raise :class:`ResourceFailure` (the caller rolls
        back with :meth:`rollback_create`)."""
        self._template = template
        self._resource_json_map = template.get("Resources") or {}
        for logical_id in creation_order(self._resource_json_map):
            if not self._condition_holds(logical_id):
                continue
            try:
                self.create_one(logical_id)
            except ResourceFailure as failure:
                resource_type = self._resource_json_map[logical_id]["Type"]
                self._event(logical_id, "CREATE_FAILED", failure.reason, resource_type)
                raise
        return True

    def rollback_create(self) -> list[str]:
        """Delete what a failed create made, newest first; returns the reasons of deletes that failed."""
        errors: list[str] = []
        for logical_id in reversed(list(self.applied)):
            try:
                self.delete_one(logical_id, self._parsed_resources[logical_id], self.applied[logical_id])
            except ResourceFailure as failure:
                errors.append(str(failure))
            self._parsed_resources.pop(logical_id, None)
            self.applied.pop(logical_id, None)
        return errors

    def update(self, template: dict[str, Any], parameters: dict[str, Any] | None = None) -> None:
        """Bring the stack to ``template``; on failure roll back to the previous template and raise."""
        previous = _Snapshot(self)
        self._template = template
        self.input_parameters = dict(parameters or {})
        self._resolved_values = {}
        try:
            self.load_mapping()
            self.load_parameters()
            self.load_conditions()
        except Exception:
            previous.restore(self)
            raise
        self._resource_json_map = template.get("Resources") or {}
        journal = _Journal()
        try:
            self._apply_update(previous, journal)
        except ResourceFailure as failure:
            resource_type = (self._resource_json_map.get(failure.logical_id) or {}).get("Type", "")
            self._event(failure.logical_id, "UPDATE_FAILED", failure.reason, resource_type)
            self._roll_back_update(previous, journal)
            raise
        # cleanup phase: resources removed from the template and the old halves of replacements
        errors: list[str] = []
        for logical_id, resource, resolved, retain in journal.to_delete_after:
            if retain:
                self._event(logical_id, "DELETE_SKIPPED", None, resolved["Type"], resource)
                continue
            try:
                self.delete_one(logical_id, resource, resolved)
            except ResourceFailure as failure:
                errors.append(str(failure))
        for logical_id in journal.removed:
            self.applied.pop(logical_id, None)
            self.statuses.pop(logical_id, None)
        if errors:
            self.stack.cleanup_errors = errors

    def _apply_update(self, previous: _Snapshot, journal: _Journal) -> None:
        new_ids = set(self._resource_json_map)
        for logical_id in creation_order(self._resource_json_map):
            existing = previous.parsed.get(logical_id) if logical_id in previous.applied else None
            if not self._condition_holds(logical_id):
                if existing is not None:
                    new_ids.discard(logical_id)  # deleted in cleanup like a removed resource
                    self._parsed_resources.pop(logical_id, None)
                continue
            if existing is None:
                self.create_one(logical_id)
                journal.created.append(logical_id)
                continue
            model, resolved = self.resolve(logical_id)
            old = previous.applied[logical_id]
            if resolved.get("Properties") == old.get("Properties") and resolved["Type"] == old["Type"]:
                self.applied[logical_id] = resolved
                continue
            self._update_one(logical_id, existing, model, old, resolved, journal)
        for logical_id in reversed(creation_order(previous.json_map)):
            if logical_id in previous.applied and logical_id not in new_ids:
                body = previous.json_map[logical_id]
                retain = body.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate")
                journal.to_delete_after.append(
                    (logical_id, previous.parsed[logical_id], previous.applied[logical_id], retain)
                )
                journal.removed.append(logical_id)
                self._parsed_resources.pop(logical_id, None)

    def _update_one(
        self,
        logical_id: str,
        existing: Any,
        model: type[CloudFormationModel] | None,
        old: dict[str, Any],
        resolved: dict[str, Any],
        journal: _Journal,
    ) -> None:
        resource_type = resolved["Type"]
        old_props, new_props = old.get("Properties") or {}, resolved.get("Properties") or {}
        changed = {k for k in set(old_props) | set(new_props) if old_props.get(k) != new_props.get(k)}
        replace = resource_type != old["Type"] or bool(changed & create_only_properties(resource_type))
        updater = None if replace else in_place_updater(resource_type, model)
        if updater is None:
            replace = True
        self._event(
            logical_id,
            "UPDATE_IN_PROGRESS",
            "Requested update requires the creation of a new physical resource; hence creating one."
            if replace
            else None,
            resource_type,
            existing,
        )
        if replace:
            name_property = resource_name_property_from_type(resource_type)
            if (
                name_property
                and name_property in new_props
                and new_props[name_property] == old_props.get(name_property)
            ):
                raise ResourceFailure(
                    logical_id,
                    f"CloudFormation cannot update a stack when a custom-named resource requires replacing. "
                    f"Rename {new_props[name_property]} and update the stack again.",
                )
            self._parsed_resources.pop(logical_id, None)
            self.create_one(logical_id)
            retain = self._resource_json_map[logical_id].get("UpdateReplacePolicy") == "Retain"
            journal.replaced.append((logical_id, existing, old))
            journal.to_delete_after.append((logical_id, existing, old, retain))
            self._event(logical_id, "UPDATE_COMPLETE", None, resource_type)
            return
        assert updater is not None
        try:
            updated = updater(
                existing, copy.deepcopy(old), copy.deepcopy(resolved), self._account_id, self._region_name
            )
        except Exception as exc:
            raise ResourceFailure(logical_id, _describe(exc)) from exc
        updated.cf_resource_type = resource_type
        updated.logical_resource_id = logical_id
        self._parsed_resources[logical_id] = updated
        self.applied[logical_id] = resolved
        journal.updated.append((logical_id, updated, old, resolved))
        # A custom resource whose update returned a new physical id: CloudFormation deletes the old one in
        # the cleanup phase (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requesttypes-update.html).
        replaced = getattr(updated, "sandbox_replaced", None)
        if replaced is not None:
            updated.sandbox_replaced = None
            journal.to_delete_after.append((logical_id, replaced, old, False))
        self._event(logical_id, "UPDATE_COMPLETE", None, resource_type, updated)

    def _roll_back_update(self, previous: _Snapshot, journal: _Journal) -> None:
        """Undo a failed update: delete what it created, restore replaced and updated resources."""
        self.stack.add_stack_event(
            "UPDATE_ROLLBACK_IN_PROGRESS", "The following resource(s) failed to update"
        )
        for logical_id, resource, old, resolved in reversed(journal.updated):
            updater = in_place_updater(resolved["Type"], model_class_or_none(resolved["Type"]))
            if updater is not None:
                try:
                    updater(resource, resolved, old, self._account_id, self._region_name)
                except Exception as exc:  # best effort, as the rollback of CloudFormation
                    self._event(logical_id, "UPDATE_FAILED", _describe(exc), resolved["Type"], resource)
        created = journal.created + [logical_id for logical_id, _, _ in journal.replaced]
        for logical_id in reversed(created):
            resource = self._parsed_resources.get(logical_id)
            if resource is not None and logical_id in self.applied:
                with contextlib.suppress(ResourceFailure):
                    self.delete_one(logical_id, resource, self.applied[logical_id])
        previous.restore(self)
        for logical_id in previous.applied:
            self.statuses[logical_id] = ("UPDATE_COMPLETE", None)

    def delete(self) -> None:
        """Delete every resource (newest dependencies last), except ``DeletionPolicy: Retain`` ones.

        https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html
        """
        failures: list[ResourceFailure] = []
        failed: set[str] = set()
        graph = dependencies(self._resource_json_map) if self._resource_json_map else {}
        for logical_id in reversed(creation_order(self._resource_json_map)):
            if logical_id not in self.applied:
                continue
            body = self._resource_json_map[logical_id]
            resource = self._parsed_resources.get(logical_id)
            if body.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate"):
                self._event(logical_id, "DELETE_SKIPPED", None, body["Type"], resource)
                continue
            dependants_failed = {d for d, deps in graph.items() if logical_id in deps} & failed
            if dependants_failed:
                failed.add(logical_id)
                continue
            try:
                self.delete_one(logical_id, resource, self.applied[logical_id])
            except ResourceFailure as failure:
                failures.append(failure)
                failed.add(logical_id)
                continue
            self._parsed_resources.pop(logical_id, None)
            self.applied.pop(logical_id, None)
        if failures:
            raise failures[0]

    def _condition_holds(self, logical_id: str) -> bool:
        condition = self._resource_json_map[logical_id].get("Condition")
        return not condition or bool(self.lazy_condition_map[condition])

    # -- change set preview --------------------------------------------------------------------------
    def preview(self, template: dict[str, Any], parameters: dict[str, Any]) -> list[ResourceChange]:
        """The changes a template would make, as a change set shows them (before anything is resolved)."""
        old = self._resource_json_map if self.applied else {}
        new = template.get("Resources") or {}
        changed_parameters = {
            k
            for k in set(parameters) | set(self.resolved_parameters)
            if str(parameters.get(k, "")) != str(self.resolved_parameters.get(k, ""))
        }
        changes: list[ResourceChange] = []
        replaced: set[str] = set()
        modified: set[str] = set()
        for logical_id in creation_order(new):
            body = new[logical_id]
            if logical_id not in old:
                changes.append(ResourceChange("Add", logical_id, body["Type"]))
                continue
            old_body = old[logical_id]
            refs = references(body.get("Properties") or {})
            by_dependency = bool(refs & (replaced | changed_parameters))
            if body == old_body and not by_dependency:
                continue
            old_props, new_props = old_body.get("Properties") or {}, body.get("Properties") or {}
            changed = {k for k in set(old_props) | set(new_props) if old_props.get(k) != new_props.get(k)}
            if body["Type"] != old_body["Type"] or changed & create_only_properties(body["Type"]):
                replacement = "True"
            elif by_dependency and any(
                references(new_props.get(p)) & (replaced | changed_parameters)
                and p in create_only_properties(body["Type"])
                for p in new_props
            ):
                replacement = "Conditional"
            else:
                replacement = "False"
            if replacement != "False":
                replaced.add(logical_id)
            modified.add(logical_id)
            physical = getattr(self._parsed_resources.get(logical_id), "physical_resource_id", None)
            changes.append(
                ResourceChange("Modify", logical_id, body["Type"], physical, replacement, sorted(changed))
            )
        for logical_id in old:
            if logical_id not in new:
                physical = getattr(self._parsed_resources.get(logical_id), "physical_resource_id", None)
                changes.append(ResourceChange("Remove", logical_id, old[logical_id]["Type"], physical))
        return changes


def model_class_or_none(resource_type: str) -> type[CloudFormationModel] | None:
    try:
        return model_class(resource_type)
    except KeyError:
        return None


class _NullResource:
    """A resource CloudFormation accepts and does nothing for (wait condition handles)."""

    def __init__(self, logical_id: str, resource_type: str) -> None:
        self.logical_resource_id = logical_id
        self.cf_resource_type = resource_type
        self.physical_resource_id = logical_id

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return ""


class _Snapshot:
    def __init__(self, resource_map: SandboxResourceMap) -> None:
        self.template = resource_map._template
        self.json_map = resource_map._resource_json_map
        self.parsed = dict(resource_map._parsed_resources)
        self.applied = dict(resource_map.applied)
        self.input_parameters = dict(resource_map.input_parameters)
        self.resolved_parameters = dict(resource_map.resolved_parameters)
        self.resolved_values = dict(resource_map._resolved_values)

    def restore(self, resource_map: SandboxResourceMap) -> None:
        resource_map._template = self.template
        resource_map._resource_json_map = self.json_map
        resource_map._parsed_resources = dict(self.parsed)
        resource_map.applied = dict(self.applied)
        resource_map.input_parameters = dict(self.input_parameters)
        resource_map.resolved_parameters = dict(self.resolved_parameters)
        resource_map._resolved_values = dict(self.resolved_values)
        resource_map.load_conditions()


class _Journal:
    def __init__(self) -> None:
        self.created: list[str] = []
        self.updated: list[tuple[str, Any, dict[str, Any], dict[str, Any]]] = []
        self.replaced: list[tuple[str, Any, dict[str, Any]]] = []
        self.to_delete_after: list[tuple[str, Any, dict[str, Any], bool]] = []
        self.removed: list[str] = []


class ResourceChange:
    """One entry of ``DescribeChangeSet``'s ``Changes`` (shape ``Change`` / ``ResourceChange``)."""

    def __init__(
        self,
        action: str,
        logical_resource_id: str,
        resource_type: str,
        physical_resource_id: str | None = None,
        replacement: str | None = None,
        changed_properties: Iterable[str] = (),
    ) -> None:
        self.type = "Resource"
        self.resource_change = self
        self.action = action
        self.logical_resource_id = logical_resource_id
        self.resource_type = resource_type
        self.physical_resource_id = physical_resource_id
        self.replacement = replacement
        self.scope = ["Properties"] if action == "Modify" else []
        self.details = [
            {
                "Target": {"Attribute": "Properties", "Name": name, "RequiresRecreation": "Never"},
                "Evaluation": "Static",
                "ChangeSource": "DirectModification",
            }
            for name in changed_properties
        ]


# -- stacks --------------------------------------------------------------------------------------------
class SandboxStack(Stack):  # type: ignore[misc]
    """A moto ``Stack`` whose resources are managed by :class:`SandboxResourceMap`."""

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    def is_created(self) -> bool:
        return self.status not in ("CREATE_PENDING", "REVIEW_IN_PROGRESS", "CREATE_IN_PROGRESS")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.status_reason: str | None = None
        self.cleanup_errors: list[str] = []
        super().__init__(*args, **kwargs)

    def _create_resource_map(self) -> SandboxResourceMap:
        resource_map = SandboxResourceMap(
            self.stack_id,
            self.name,
            self.parameters,
            self.tags,
            account_id=self.account_id,
            region_name=self.region_name,
            template=self.template_dict,
            cross_stack_resources=self.cross_stack_resources,
            stack=self,
        )
        resource_map.load()
        return resource_map

    @property
    def sandbox_resources(self) -> SandboxResourceMap:
        assert isinstance(self.resource_map, SandboxResourceMap)
        return self.resource_map

    def add_stack_event(self, status: str, reason: str | None = None) -> None:
        self._add_stack_event(status, resource_status_reason=reason)

    def add_resource_event(
        self, logical_id: str, physical_id: str, resource_type: str, status: str, reason: str | None
    ) -> None:
        self.events.append(
            Event(
                stack_id=self.stack_id,
                stack_name=self.name,
                logical_resource_id=logical_id,
                physical_resource_id=physical_id,
                resource_type=resource_type,
                resource_status=status,
                resource_status_reason=reason,
                resource_properties=None,
            )
        )

    def create_resources(self) -> None:
        self.status = "CREATE_IN_PROGRESS"
        self.description = self.template_dict.get("Description")
        try:
            self.sandbox_resources.create(self.template_dict)
            self.output_map = self._create_output_map()
            _ = self.outputs  # evaluate now: a bad output fails the create like CloudFormation
        except (ResourceFailure, CloudFormationError, KeyError, ValueError, TypeError) as exc:
            failure = exc if isinstance(exc, ResourceFailure) else ResourceFailure(self.name, _describe(exc))
            self.status_reason = f"The following resource(s) failed to create: [{failure.logical_id}]. "
            self.status_reason += failure.reason
            self.output_map = self._create_output_map_for({})
            if self.disable_rollback:
                self.status = "CREATE_FAILED"
                self.add_stack_event("CREATE_FAILED", self.status_reason)
                return
            self.status = "ROLLBACK_IN_PROGRESS"
            self.add_stack_event("ROLLBACK_IN_PROGRESS", self.status_reason)
            errors = self.sandbox_resources.rollback_create()
            self.status = "ROLLBACK_FAILED" if errors else "ROLLBACK_COMPLETE"
            self.add_stack_event(self.status, "; ".join(errors) or None)
            return
        self.status_reason = None
        self.mark_creation_complete()

    def _create_output_map_for(self, template: dict[str, Any]) -> Any:
        from moto.cloudformation.parsing import OutputMap

        return OutputMap(self.resource_map, template, self.stack_id)

    def update(
        self,
        template: str,
        role_arn: str | None = None,
        parameters: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        self.status = "UPDATE_IN_PROGRESS"
        self.add_stack_event("UPDATE_IN_PROGRESS", "User Initiated")
        previous_template, previous_dict = self.template, self.template_dict
        new_dict = self.parse_template(template)
        self.cleanup_errors = []
        try:
            self.sandbox_resources.update(new_dict, parameters if parameters is not None else self.parameters)
            self.template, self.template_dict = template, new_dict
            self.output_map = self._create_output_map()
            _ = self.outputs
        except (ResourceFailure, CloudFormationError, KeyError, ValueError, TypeError) as exc:
            failure = exc if isinstance(exc, ResourceFailure) else ResourceFailure(self.name, _describe(exc))
            self.template, self.template_dict = previous_template, previous_dict
            self.output_map = self._create_output_map()
            self.status_reason = f"The following resource(s) failed to update: [{failure.logical_id}]. "
            self.status_reason += failure.reason
            self.status = "UPDATE_ROLLBACK_COMPLETE"
            self.add_stack_event("UPDATE_ROLLBACK_COMPLETE", self.status_reason)
            return
        self.description = self.template_dict.get("Description")
        self.status_reason = None
        self.role_arn = role_arn or self.role_arn
        if parameters is not None:
            self.parameters = parameters
        if tags is not None:
            self.tags = tags
        self.add_stack_event("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
        self.status = "UPDATE_COMPLETE"
        self.add_stack_event("UPDATE_COMPLETE", "; ".join(self.cleanup_errors) or None)

    def delete(self) -> None:
        self.status = "DELETE_IN_PROGRESS"
        self.add_stack_event("DELETE_IN_PROGRESS", "User Initiated")
        try:
            self.sandbox_resources.delete()
        except ResourceFailure as failure:
            self.status = "DELETE_FAILED"
            self.status_reason = f"The following resource(s) failed to delete: [{failure.logical_id}]. "
            self.status_reason += failure.reason
            self.add_stack_event("DELETE_FAILED", self.status_reason)
            raise
        self.status = "DELETE_COMPLETE"
        self.status_reason = None
        self.add_stack_event("DELETE_COMPLETE")


class SandboxChangeSet(ChangeSet):
    """A change set whose ``Changes`` come from :meth:`SandboxResourceMap.preview`."""

    def diff(self) -> list[Any]:
        stack = self.stack
        assert isinstance(stack, SandboxStack)
        return list(stack.sandbox_resources.preview(self.template_dict, self.parameters))

    def apply(self) -> None:  # executed by SandboxCloudFormationBackend.execute_change_set
        raise NotImplementedError


# -- the backend ---------------------------------------------------------------------------------------
class SandboxCloudFormationBackend(CloudFormationBackend):
    """moto's CloudFormation backend with :class:`SandboxStack` stacks and per-stack change sets."""

    @property
    def _url_module(self) -> Any:
        from moto.cloudformation import urls

        return urls

    def create_stack(
        self,
        name: str,
        template: str,
        parameters: dict[str, Any],
        notification_arns: list[str] | None = None,
        tags: dict[str, str] | None = None,
        role_arn: str | None = None,
        enable_termination_protection: bool | None = False,
        timeout_in_mins: int | None = None,
        stack_policy_body: str | None = None,
    ) -> Stack:
        if name in [stack.name for stack in self.stacks.values()]:
            raise AlreadyExistsException(f"Stack [{name}] already exists")
        stack = SandboxStack(
            stack_id=generate_stack_id(name, self.region_name, self.account_id),
            name=name,
            template=template,
            parameters=parameters,
            account_id=self.account_id,
            region_name=self.region_name,
            notification_arns=notification_arns,
            tags=tags,
            role_arn=role_arn,
            cross_stack_resources=self.exports,
            enable_termination_protection=enable_termination_protection,
            timeout_in_mins=timeout_in_mins,
            stack_policy_body=stack_policy_body,
        )
        self.stacks[stack.stack_id] = stack
        stack.add_stack_event("CREATE_IN_PROGRESS", "User Initiated")
        stack.create_resources()
        self._publish_exports(stack)
        return stack

    def _publish_exports(self, stack: Stack) -> None:
        for name in [n for n, e in self.exports.items() if e.exporting_stack_id == stack.stack_id]:
            self.exports.pop(name)
        if stack.status.endswith("_COMPLETE") and "ROLLBACK" not in stack.status:
            for export in stack.exports:
                self.exports[export.name] = export

    def _stack_named(self, name_or_id: str | None) -> Stack | None:
        if not name_or_id:
            return None
        for stack in self.stacks.values():
            if name_or_id in (stack.name, stack.stack_id):
                return stack
        return None

    def create_change_set(
        self,
        stack_name: str,
        change_set_name: str,
        template: str,
        parameters: dict[str, str],
        description: str,
        change_set_type: str,
        notification_arns: list[str] | None = None,
        tags: dict[str, str] | None = None,
        role_arn: str | None = None,
    ) -> tuple[str, str]:
        validate_create_change_set(change_set_name)
        stack = self._stack_named(stack_name)
        if change_set_type == "UPDATE":
            if stack is None or stack.status == "REVIEW_IN_PROGRESS":
                raise ValidationError(message=f"Stack [{stack_name}] does not exist")
        elif change_set_type == "CREATE":
            if stack is not None and stack.status != "REVIEW_IN_PROGRESS":
                raise AlreadyExistsException(f"Stack [{stack_name}] already exists")
            if stack is None:
                stack = SandboxStack(
                    stack_id=generate_stack_id(stack_name, self.region_name, self.account_id),
                    name=stack_name,
                    template={},
                    parameters=parameters,
                    account_id=self.account_id,
                    region_name=self.region_name,
                    notification_arns=notification_arns,
                    tags=tags,
                    role_arn=role_arn,
                    cross_stack_resources=self.exports,
                )
                self.stacks[stack.stack_id] = stack
                stack.status = "REVIEW_IN_PROGRESS"
                stack.add_stack_event("REVIEW_IN_PROGRESS", "User Initiated")
        else:
            raise ValidationError(
                message=f"ChangeSetType {change_set_type}: CREATE or UPDATE (IMPORT unsupported)"
            )
        assert stack is not None
        for change_set in list(self.change_sets.values()):
            if change_set.stack_id == stack.stack_id and change_set.change_set_name == change_set_name:
                raise AlreadyExistsException(f"ChangeSet [{change_set_name}] already exists")
        change_set_id = generate_changeset_id(change_set_name, self.region_name, self.account_id)
        change_set = SandboxChangeSet(
            change_set_type=change_set_type,
            change_set_id=change_set_id,
            change_set_name=change_set_name,
            stack=stack,
            template=template,
            parameters=parameters,
            description=description,
            notification_arns=notification_arns,
            tags=tags,
            role_arn=role_arn,
        )
        change_set.creation_time = utcnow()
        if (
            change_set_type == "UPDATE"
            and stack.template_dict == change_set.template_dict
            and {k: str(v) for k, v in stack.resource_map.resolved_parameters.items()}
            == {k: str(v) for k, v in _with_defaults(change_set.template_dict, parameters).items()}
            and (tags is None or not tags or tags == stack.tags)
        ):
            change_set.status, change_set.execution_status = "FAILED", "UNAVAILABLE"
            change_set.status_reason = _NO_CHANGES
            change_set.changes = []
        else:
            change_set.status, change_set.execution_status = "CREATE_COMPLETE", "AVAILABLE"
        self.change_sets[change_set_id] = change_set
        return change_set_id, stack.stack_id

    def find_change_set(self, change_set_name: str, stack_name: str | None = None) -> ChangeSet:
        if change_set_name in self.change_sets:
            return self.change_sets[change_set_name]
        stack = self._stack_named(stack_name)
        for change_set in reversed(list(self.change_sets.values())):
            if change_set.change_set_name == change_set_name and (
                stack is None or change_set.stack_id == stack.stack_id
            ):
                return change_set
        raise ChangeSetNotFound(f"ChangeSet [{change_set_name}] does not exist")

    def describe_change_set(self, change_set_name: str, stack_name: str | None = None) -> ChangeSet:
        return self.find_change_set(change_set_name, stack_name)

    def delete_change_set(self, change_set_name: str, stack_name: str | None = None) -> None:
        """Deleting a missing change set of an existing stack succeeds (the CDK CLI relies on it)."""
        if stack_name and self._stack_named(stack_name) is None and not change_set_name.startswith("arn:"):
            raise ValidationError(message=f"Stack [{stack_name}] does not exist")
        try:
            change_set = self.find_change_set(change_set_name, stack_name)
        except ChangeSetNotFound:
            if stack_name:
                return
            raise
        self.change_sets.pop(change_set.change_set_id, None)
        stack = self.stacks.get(change_set.stack_id)
        # Deleting the only change set of a stack that was never created deletes the stack too:
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteChangeSet.html
        if (
            stack is not None
            and stack.status == "REVIEW_IN_PROGRESS"
            and change_set.change_set_type == "CREATE"
            and not any(cs.stack_id == stack.stack_id for cs in self.change_sets.values())
        ):
            self.stacks.pop(stack.stack_id, None)

    def execute_change_set(self, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = self.find_change_set(change_set_name, stack_name)
        if change_set.execution_status != "AVAILABLE":
            raise InvalidChangeSetStatus(
                f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current status of "
                f"[{change_set.status}]"
            )
        stack = self.stacks[change_set.stack_id]
        assert isinstance(stack, SandboxStack)
        change_set.execution_status = "EXECUTE_IN_PROGRESS"
        if change_set.change_set_type == "CREATE":
            stack.template = change_set.template
            stack._parse_template()
            stack.parameters = change_set.parameters
            stack.description = stack.template_dict.get("Description")
            if change_set.tags:
                stack.tags = change_set.tags
            stack.creation_time = utcnow()
            stack.add_stack_event("CREATE_IN_PROGRESS", "User Initiated")
            try:
                stack.resource_map = stack._create_resource_map()
            except CloudFormationError as exc:
                stack.status, stack.status_reason = "ROLLBACK_COMPLETE", _describe(exc)
                stack.add_stack_event("ROLLBACK_COMPLETE", stack.status_reason)
            else:
                stack.create_resources()
        else:
            stack.update(
                change_set.template, change_set.role_arn, change_set.parameters, change_set.tags or None
            )
        failed = "ROLLBACK" in stack.status or stack.status.endswith("_FAILED")
        change_set.execution_status = "EXECUTE_FAILED" if failed else "EXECUTE_COMPLETE"
        self._publish_exports(stack)
        # After execution CloudFormation deletes the stack's other change sets.
        for key, other in list(self.change_sets.items()):
            if other.stack_id == stack.stack_id and other is not change_set:
                self.change_sets.pop(key)

    def update_stack(
        self,
        name: str,
        template: str,
        role_arn: str | None,
        parameters: list[dict[str, Any]],
        tags: dict[str, str] | None,
    ) -> Stack:
        stack = super().update_stack(name, template, role_arn, parameters, tags)
        self._publish_exports(stack)
        return stack

    def delete_stack(self, name_or_stack_id: str) -> None:
        stack = self._stack_named(name_or_stack_id)
        if stack is None:
            return  # DeleteStack on a missing stack succeeds
        if stack.status == "REVIEW_IN_PROGRESS":
            stack.status = "DELETE_COMPLETE"
        else:
            try:
                stack.delete()
            except ResourceFailure:
                return  # DELETE_FAILED: the stack stays
        self.stacks.pop(stack.stack_id, None)
        self.deleted_stacks[stack.stack_id] = stack
        for name in [n for n, e in self.exports.items() if e.exporting_stack_id == stack.stack_id]:
            self.exports.pop(name)
        for key, change_set in list(self.change_sets.items()):
            if change_set.stack_id == stack.stack_id:
                self.change_sets.pop(key)


def _with_defaults(template: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    slots = template.get("Parameters") or {}
    return {name: parameters.get(name, slot.get("Default")) for name, slot in slots.items()}


def _number(value: str) -> int | float:
    try:
        return int(value)
    except ValueError:
        return float(value)


def _describe(exc: BaseException) -> str:
    """A one-line reason for an exception (moto's service errors carry code and message)."""
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    if isinstance(exc, KeyError):
        message = f"missing {exc}"
    return f"{message} (Service: {code})" if isinstance(code, str) and code else str(message)


# -- wiring --------------------------------------------------------------------------------------------
_installed = False


def install_engine() -> None:
    """Make moto's CloudFormation use this engine (idempotent)."""
    global _installed
    if _installed:
        return
    from moto.cloudformation import responses
    from moto.cloudformation.models import cloudformation_backends

    cloudformation_backends.backend = SandboxCloudFormationBackend
    cloudformation_backends.clear()
    response_class = responses.CloudFormationResponse
    for operation in ("describe_change_set", "delete_change_set", "execute_change_set"):
        setattr(response_class, operation, _change_set_handler(operation))
    original_list = response_class.list_stack_resources
    response_class.list_stack_resources = _with_resource_statuses(original_list)  # type: ignore[method-assign,assignment]
    original_validate = response_class._validate_different_update

    def _validate_different_update(self: Any, *args: Any, **kwargs: Any) -> None:
        # CreateChangeSet without changes makes a FAILED change set ("didn't contain changes"); only
        # UpdateStack answers "No updates are to be performed."
        if self._get_action() != "CreateChangeSet":
            original_validate(self, *args, **kwargs)

    response_class._validate_different_update = _validate_different_update  # type: ignore[method-assign]
    _installed = True


def _change_set_handler(operation: str) -> Callable[[Any], Any]:
    """Change set operations that honour ``StackName`` (change set names are unique per stack only)."""
    from moto.core.responses import ActionResult, EmptyResult

    def handler(self: Any) -> Any:
        name = self._get_param("ChangeSetName")
        stack_name = self._get_param("StackName")
        result = getattr(self.cloudformation_backend, operation)(name, stack_name)
        return ActionResult(result) if operation == "describe_change_set" else EmptyResult()

    handler.__name__ = operation
    return handler


def _with_resource_statuses(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``ListStackResources`` with each resource's real status (moto answers CREATE_COMPLETE)."""
    from moto.core.responses import ActionResult

    def list_stack_resources(self: Any) -> Any:
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        if not isinstance(stack, SandboxStack):
            return original(self)
        resources = stack.sandbox_resources
        summaries = []
        for logical_id, resource in zip(list(resources), resources.values(), strict=True):
            status, reason = resources.statuses.get(logical_id, ("CREATE_COMPLETE", None))
            summary = {
                "LogicalResourceId": logical_id,
                "PhysicalResourceId": str(getattr(resource, "physical_resource_id", "") or ""),
                "ResourceType": getattr(resource, "cf_resource_type", ""),
                "LastUpdatedTimestamp": stack.creation_time,
                "ResourceStatus": status,
            }
            if reason:
                summary["ResourceStatusReason"] = reason
            summaries.append(summary)
        return ActionResult({"StackResourceSummaries": summaries})

    return list_stack_resources
