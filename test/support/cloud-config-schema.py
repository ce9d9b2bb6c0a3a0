"""Validates #cloud-config files against the JSON schema shipped in Debian's cloud-init package,
with unknown top-level keys refused (`cloud-init schema` lets them through). Prints one line per
problem as `FILE: message` and exits 1 when there is any."""
import json
import sys

import jsonschema
import yaml

SCHEMA = "/usr/lib/python3/dist-packages/cloudinit/config/schemas/schema-cloud-config-v1.json"

with open(SCHEMA) as f:
    schema = json.load(f)

# Every top-level key some module defines: the union of the properties of every allOf member.
known = set()
for ref in schema["allOf"]:
    name = ref["$ref"].split("/")[-1]
    known.update(schema["$defs"][name].get("properties", {}).keys())

validator = jsonschema.Draft4Validator(schema)
problems = 0
for path in sys.argv[1:]:
    with open(path) as f:
        text = f.read()
    if not text.startswith("#cloud-config\n"):
        print(f"{path}: does not start with #cloud-config")
        problems += 1
        continue
    doc = yaml.safe_load(text)
    for key in sorted(set(doc) - known):
        print(f"{path}: unknown top-level key {key!r}")
        problems += 1
    for err in validator.iter_errors(doc):
        print(f"{path}: {'.'.join(str(p) for p in err.absolute_path)}: {err.message}")
        problems += 1
sys.exit(1 if problems else 0)
