"""A small evaluator for the template's Rules and Conditions, so tests can prove them offline.

It understands exactly the intrinsic functions the template uses there (Ref, Equals, Not,
And, Or, Contains, Condition) and compares values as strings, as CloudFormation does for
parameters. Anything else raises, so a new function in a rule cannot be silently ignored.
"""

from __future__ import annotations

from typing import Any

from deploy.stack import load_template

TEMPLATE = load_template()


def parameter_values(**overrides: str) -> dict[str, str]:
    """Defaults of every parameter (as strings), then the overrides."""
    values = {
        name: str(spec["Default"])
        for name, spec in TEMPLATE["Parameters"].items()
        if "Default" in spec
    }
    values.update({k: str(v) for k, v in overrides.items()})
    return values


def evaluate(node: Any, params: dict[str, str], conditions: dict[str, Any] | None = None) -> Any:
    if isinstance(node, str | int | float):
        return str(node)
    if isinstance(node, list):
        return [evaluate(item, params, conditions) for item in node]
    (fn, arg), *rest = node.items()
    assert not rest, node
    if fn == "Ref":
        return params[arg]
    if fn == "Equals":
        left, right = (evaluate(a, params, conditions) for a in arg)
        return left == right
    if fn == "Not":
        return not evaluate(arg[0], params, conditions)
    if fn == "And":
        return all(evaluate(a, params, conditions) for a in arg)
    if fn == "Or":
        return any(evaluate(a, params, conditions) for a in arg)
    if fn == "Contains":
        values, value = arg
        return evaluate(value, params, conditions) in evaluate(values, params, conditions)
    if fn == "Condition":
        assert conditions is not None, "Condition is only valid in Conditions"
        return evaluate(conditions[arg], params, conditions)
    raise AssertionError(f"intrinsic {fn} not understood by the test evaluator")


def failed_rules(**overrides: str) -> list[str]:
    """AssertDescriptions of every failing rule assertion for these parameter values."""
    params = parameter_values(**overrides)
    failures = []
    for rule in TEMPLATE["Rules"].values():
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"], params):
            continue
        for assertion in rule["Assertions"]:
            if not evaluate(assertion["Assert"], params):
                failures.append(assertion["AssertDescription"])
    return failures


def created_resources(**overrides: str) -> dict[str, dict[str, Any]]:
    """The resources CloudFormation would create for these parameter values."""
    params = parameter_values(**overrides)
    conditions = TEMPLATE["Conditions"]
    return {
        name: resource
        for name, resource in TEMPLATE["Resources"].items()
        if "Condition" not in resource
        or evaluate(conditions[resource["Condition"]], params, conditions)
    }
