"""Holds recorded CodeDeploy exchanges to CodeDeploy's published model: botocore's `codedeploy` service definition.

Reads JSON lines {"operation", "request", "status", "response"} on stdin. Each request is validated by botocore's
own parameter validator against the operation's input shape; each successful answer against its output shape
(members known, types, enums, required members); each error answer must be one of the operation's declared errors.
Prints one line per problem and exits 1 if there is any.
"""
import json
import sys

import botocore.session
from botocore.validate import ParamValidator

model = botocore.session.get_session().get_service_model("codedeploy")
problems = []


def check(shape, value, path):
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return problems.append(f"{path}: {type(value).__name__} where {shape.name} is a structure")
        for name in shape.required_members:
            if name not in value:
                problems.append(f"{path}: required member {name} missing")
        for name, member in value.items():
            if name not in shape.members:
                problems.append(f"{path}.{name}: not a member of {shape.name}")
            elif member is not None:
                check(shape.members[name], member, f"{path}.{name}")
    elif kind == "list":
        if not isinstance(value, list):
            return problems.append(f"{path}: {type(value).__name__} where a list is due")
        for i, item in enumerate(value):
            check(shape.member, item, f"{path}[{i}]")
    elif kind == "map":
        if not isinstance(value, dict):
            return problems.append(f"{path}: {type(value).__name__} where a map is due")
        for k, v in value.items():
            check(shape.value, v, f"{path}.{k}")
    elif kind == "string":
        if not isinstance(value, str):
            return problems.append(f"{path}: {value!r} is not a string")
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} is not one of {shape.name}'s values")
    elif kind == "timestamp":
        # The JSON protocol writes a timestamp as seconds since the epoch, a number.
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problems.append(f"{path}: {value!r} is not a timestamp (seconds since the epoch)")
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{path}: {value!r} is not a boolean")
    elif kind in ("integer", "long", "double", "float"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problems.append(f"{path}: {value!r} is not a number")


count = 0
for line in sys.stdin:
    if not line.strip():
        continue
    x = json.loads(line)
    count += 1
    name = x["operation"]
    if name not in model.operation_names:
        problems.append(f"{name}: not an operation of CodeDeploy")
        continue
    op = model.operation_model(name)
    report = ParamValidator().validate(x["request"], op.input_shape)
    if report.has_errors():
        problems.append(f"{name} request: {report.generate_report()}")
    if 200 <= x["status"] < 300:
        if op.output_shape is not None:
            check(op.output_shape, x["response"], f"{name} answer")
    else:
        code = str(x["response"].get("__type", "")).split("#")[-1]
        declared = {e.name for e in op.error_shapes}
        if code not in declared:
            problems.append(f"{name} answered {code!r}, not among its declared errors")

for p in problems:
    print(p)
print(f"{count} exchanges checked against botocore {botocore.__version__}'s codedeploy model, {len(problems)} problems")
sys.exit(1 if problems else 0)
