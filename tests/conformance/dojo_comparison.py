"""Each operation we share with Dojo, aspect by aspect: parameters, request body, success answer,
error answers. Difference ids (the keys of dojo_differences.py) are explained in
docs/conformance.md; bodies are compared by schema_comparison.

``python -m tests.conformance.dojo_comparison`` prints the figures docs/conformance.md quotes and
every difference that is not allow-listed.
"""

from __future__ import annotations

from typing import Any

from tests.conformance.openapi_spec import (
    Difference,
    MatchedOperation,
    Schema,
    Spec,
    dojo_spec_path,
    load_spec,
    matched_operations,
    our_document,
)
from tests.conformance.schema_comparison import ANSWER, REQUEST, BodyComparison, Place, constraint_differences

ASPECTS = ("parameters", "request", "response", "errors")


def differences(operation: MatchedOperation, aspect: str, ours: Spec, dojo: Spec) -> list[Difference]:
    """Every difference of one aspect of one operation, each id once."""
    compare = {
        "parameters": parameter_differences,
        "request": request_differences,
        "response": response_differences,
        "errors": error_differences,
    }[aspect]
    unique: dict[str, Difference] = {}
    for difference in compare(operation, ours, dojo):
        unique.setdefault(difference.id, difference)
    return list(unique.values())


def all_differences(ours_document: Schema, dojo_document: Schema) -> dict[str, list[Difference]]:
    """Every difference, by test case ("<METHOD> <path> <aspect>")."""
    ours, dojo = Spec(ours_document), Spec(dojo_document)
    return {
        f"{operation.name} {aspect}": differences(operation, aspect, ours, dojo)
        for operation in matched_operations(ours_document, dojo_document)
        for aspect in ASPECTS
    }


def parameter_differences(operation: MatchedOperation, ours: Spec, dojo: Spec) -> list[Difference]:
    """Name, location, required-ness and schema; header names compare case-insensitively. A
    difference in one of Dojo's shared parameters (``Version``) is named after it, once."""
    mine = _parameters(ours, operation.ours.get("parameters", []))
    theirs = _parameters(
        dojo, [*operation.dojo_path_item.get("parameters", []), *operation.dojo.get("parameters", [])]
    )
    found = [
        _parameter_difference(operation, mine[key], "extra") for key in sorted(mine.keys() - theirs.keys())
    ]
    found += [
        _parameter_difference(operation, theirs[key], "missing")
        for key in sorted(theirs.keys() - mine.keys())
    ]
    for key in sorted(mine.keys() & theirs.keys()):
        o, d = mine[key], theirs[key]
        if bool(o.get("required")) != bool(d.get("required")):
            found.append(_parameter_difference(operation, d, "required", f"ours {o.get('required')}"))
        for aspect, detail in constraint_differences(
            ours.flatten(o.get("schema", {})), dojo.flatten(d.get("schema", {})), REQUEST
        ):
            # Path and header values are never JSON null: Dojo's generated "nullable" means nothing there.
            if aspect != "nullable":
                found.append(_parameter_difference(operation, d, aspect, detail))
    return found


def _parameters(spec: Spec, parameters: list[Schema]) -> dict[tuple[str, str], Schema]:
    resolved = [spec.parameter(p) for p in parameters]
    return {(p["in"], p["name"].lower() if p["in"] == "header" else p["name"]): p for p in resolved}


def _parameter_difference(
    operation: MatchedOperation, parameter: Schema, aspect: str, detail: str = ""
) -> Difference:
    where = f"{parameter['in']}:{parameter['name']}"
    shared = parameter.get("x-component")
    owner = f"parameter {shared}" if shared else f"{operation.name} parameter {where}"
    return Difference(f"{owner} {aspect}", f"{operation.name} {where}: {aspect} {detail}".rstrip())


def request_differences(operation: MatchedOperation, ours: Spec, dojo: Spec) -> list[Difference]:
    mine, theirs = operation.ours.get("requestBody"), operation.dojo.get("requestBody")
    if mine is None or theirs is None:
        if mine is theirs:
            return []
        detail = f"request body: ours {mine is not None}, Dojo's {theirs is not None}"
        return [Difference(f"{operation.name} request body", detail)]
    found = []
    if bool(mine.get("required")) != bool(theirs.get("required")):
        found.append(Difference(f"{operation.name} request required", "whether a body is required differs"))
    comparison = BodyComparison(ours, dojo, REQUEST, "request")
    return found + comparison.compare(_json(mine), _json(theirs), Place.root(operation.name, "request"))


def response_differences(operation: MatchedOperation, ours: Spec, dojo: Spec) -> list[Difference]:
    """The success statuses, and each success body."""
    mine, theirs = _statuses(operation.ours, success=True), _statuses(operation.dojo, success=True)
    found = []
    if mine.keys() != theirs.keys():
        detail = f"success statuses: ours {sorted(mine)}, Dojo's {sorted(theirs)}"
        found.append(Difference(f"{operation.name} response status", detail))
    for status in sorted(mine.keys() & theirs.keys()):
        found += _answer_differences(operation, ours, dojo, status, mine[status], theirs[status], "response")
    return found


def error_differences(operation: MatchedOperation, ours: Spec, dojo: Spec) -> list[Difference]:
    """Each error status Dojo declares must be one we document, with a body valid under Dojo's."""
    mine, theirs = _statuses(operation.ours, success=False), _statuses(operation.dojo, success=False)
    found = [
        Difference(
            f"{operation.name} response {status} missing", f"Dojo declares {status}; we never answer it"
        )
        for status in sorted(theirs.keys() - mine.keys())
    ]
    for status in sorted(mine.keys() & theirs.keys()):
        found += _answer_differences(operation, ours, dojo, status, mine[status], theirs[status], "error")
    return found


def _answer_differences(
    operation: MatchedOperation,
    ours: Spec,
    dojo: Spec,
    status: str,
    mine: Schema,
    theirs: Schema,
    direction: str,
) -> list[Difference]:
    o_body, d_body = _json(mine), _json(theirs)
    if o_body is None or d_body is None:
        if o_body is d_body:
            return []
        detail = f"{status} body: ours {o_body is not None}, Dojo's {d_body is not None}"
        return [Difference(f"{operation.name} response {status} body", detail)]
    place = Place.root(f"{operation.name} {status}", direction)
    return BodyComparison(ours, dojo, ANSWER, direction).compare(o_body, d_body, place)


def _statuses(operation: Schema, *, success: bool) -> dict[str, Schema]:
    return {code: r for code, r in operation["responses"].items() if code.startswith("2") == success}


def _json(holder: Schema) -> Any:
    return holder.get("content", {}).get("application/json", {}).get("schema")


def served_figures(ours_document: Schema, dojo_document: Schema) -> tuple[int, int, dict[str, int]]:
    """How many of Dojo's operations we serve, of how many, and those not served by the first
    segment of their path (``customers``, ``epos``, …; ``payment-intents`` for /charge)."""
    matched = {(id(m.dojo_path_item), m.method) for m in matched_operations(ours_document, dojo_document)}
    every = [
        (method, path)
        for path, item in dojo_document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]
    missing: dict[str, int] = {}
    for method, path in every:
        if (id(dojo_document["paths"][path]), method) not in matched:
            group = path.strip("/").split("/")[0]
            missing[group] = missing.get(group, 0) + 1
    return len(matched), len(every), dict(sorted(missing.items()))


def main() -> None:
    from tests.conformance.dojo_differences import DIFFERENCES

    ours, dojo = our_document(), load_spec(dojo_spec_path())
    served, every, missing = served_figures(ours, dojo)
    print(f"Dojo's operations served: {served} of {every}; not served: {missing}")
    found = all_differences(ours, dojo)
    ids = {difference.id for listed in found.values() for difference in listed}
    print(f"operations compared: {len({case.rsplit(' ', 1)[0] for case in found})}")
    print(f"aspects checked (operation x aspect test cases): {len(found)}")
    print(f"differences found: {len(ids)} ids, {sum(map(len, found.values()))} occurrences")
    print(f"allow-listed: {len(DIFFERENCES)}")
    print(f"failures (found, not allow-listed): {len(ids - DIFFERENCES.keys())}")
    for case, listed in found.items():
        for difference in listed:
            if difference.id not in DIFFERENCES:
                print(f"  [{case}] {difference.id}  --  {difference.detail}")
    print(f"stale allow-list entries: {sorted(DIFFERENCES.keys() - ids)}")


if __name__ == "__main__":
    main()
