#!/usr/bin/env python3
# Validates published events against the JSON Schemas `cdc-pipeline models export` wrote:
#   validate_events.py SCHEMA_DIR CONSUMER_DIR
# Every line of every CONSUMER_DIR/*.jsonl is an EventBridge event; its `detail` is checked with
# its table's schema (draft 2020-12, formats checked). Prints "checked N failed M schemas K" and
# each failure; exits 1 on a failure or when nothing was checked. Needs python3-jsonschema
# (scripts/bootstrap installs it).
import glob, json, os, sys
try:
    import jsonschema
except ImportError:
    sys.exit("python3-jsonschema is missing: run scripts/bootstrap")
schemas, checked, failed = {}, 0, 0
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.schema.json"))):
    schema = json.load(open(path))
    jsonschema.Draft202012Validator.check_schema(schema)
    schemas[schema["properties"]["tableName"]["const"]] = schema
for path in sorted(glob.glob(os.path.join(sys.argv[2], "*.jsonl"))):
    for line in open(path):
        detail = json.loads(line)["detail"]
        validator = jsonschema.Draft202012Validator(
            schemas[detail["tableName"]], format_checker=jsonschema.FormatChecker())
        for error in validator.iter_errors(detail):
            failed += 1
            print(path, detail["tableName"], error.json_path, error.message)
        checked += 1
print("checked", checked, "failed", failed, "schemas", len(schemas))
sys.exit(1 if failed or checked == 0 else 0)
