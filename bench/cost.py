"""Cost per 1,000 orders and the fixed monthly cost of the deployed example, from measured figures and the
list prices in ``prices.json`` (us-east-1, dated; each with its source page).

Inputs (written by the other benchmarks of the same ``make bench`` run, ``build/bench/``):

- the example's synthesized stack templates (``synth.py --templates``), all of them: functions (handler, memory, architecture),
  event source batch sizes, KMS keys, alarms (a metric-math alarm counts each metric), dashboards, log
  groups and their retention;
- the AWS requests per order by operation and function (``pipelines.py``);
- each handler's warm time and log bytes per record (``warm.py``).

Running cost per 1,000 orders: the producer's SNS publish and the SES events' (``ses_events_per_order``),
SQS (each delivery, and one receive and one delete per batch, for each queue), Lambda invocations and
GB-seconds (records per invocation x (measured time per record + requests per record x the assumed
in-region AWS latency)), DynamoDB read / write request units, SES e-mails, CloudWatch Logs ingestion (and
storage over the retention period). Fixed per month: KMS keys, alarm metrics, dashboards and the event
source mappings' idle long polling. Not counted: free tiers, KMS requests (SQS and SNS reuse data keys),
DynamoDB storage and backups, data transfer.

    .venv/bin/python bench/cost.py --template T.json [--template ...] --pipelines P.json --warm W.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PRICES = Path(__file__).resolve().parent / "prices.json"
PLATFORM_LOG_BYTES = 350
"""Lambda's own START / END / REPORT lines per invocation."""
#: The functions of the order and bounce pipelines, and how many of their records one order makes.
RECORDS_PER_ORDER = {"order_writer": 1.0, "order_email_sender": 1.0, "bounce_processor": None}


def _price(prices: dict[str, Any], name: str) -> float:
    entry = prices["prices"][name]
    return float(entry["usd"]) / float(entry["per"])


def template_facts(template: dict[str, Any]) -> dict[str, Any]:
    resources = template.get("Resources", {})
    functions: dict[str, dict[str, Any]] = {}
    batch_sizes: dict[str, int] = {}
    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Lambda::Function" and isinstance(props.get("Handler"), str):
            name = (
                props["Handler"].split(".")[1]
                if props["Handler"].startswith("lambda_handlers.")
                else logical_id
            )
            functions[logical_id] = {
                "handler": name,
                "memory_mb": int(props.get("MemorySize", 128)),
                "architecture": (props.get("Architectures") or ["x86_64"])[0],
            }
        if resource["Type"] == "AWS::Lambda::EventSourceMapping":
            target = props.get("FunctionName", {})
            if isinstance(target, dict) and "Ref" in target:
                batch_sizes[target["Ref"]] = int(props.get("BatchSize", 10))
    for logical_id, batch in batch_sizes.items():
        if logical_id in functions:
            functions[logical_id]["batch_size"] = batch
    alarms = [r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    alarm_metrics = sum(
        sum(1 for m in a["Properties"]["Metrics"] if "MetricStat" in m) if "Metrics" in a["Properties"] else 1
        for a in alarms
    )
    log_groups = [r for r in resources.values() if r["Type"] == "AWS::Logs::LogGroup"]
    count = {kind: sum(1 for r in resources.values() if r["Type"] == kind) for kind in _KINDS}
    return {
        "functions": {f["handler"]: f for f in functions.values()},
        "kms_keys": count["AWS::KMS::Key"],
        "alarms": len(alarms),
        "alarm_metrics": alarm_metrics,
        "dashboards": count["AWS::CloudWatch::Dashboard"],
        "event_source_mappings": count["AWS::Lambda::EventSourceMapping"],
        "queues": count["AWS::SQS::Queue"],
        "log_groups": len(log_groups),
        "log_retention_days": sorted({int(g["Properties"].get("RetentionInDays", 0)) for g in log_groups}),
    }


_KINDS = ("AWS::KMS::Key", "AWS::CloudWatch::Dashboard", "AWS::Lambda::EventSourceMapping", "AWS::SQS::Queue")


def compute(
    prices: dict[str, Any], facts: dict[str, Any], requests: dict[str, Any], warm: dict[str, Any]
) -> dict[str, Any]:
    assume = {name: entry["value"] for name, entry in prices["assumptions"].items()}
    latency = float(assume["aws_request_latency_ms"]) / 1000
    events = float(assume["ses_events_per_order"])
    orders = 1000
    lines: dict[str, float] = {}
    records = {**RECORDS_PER_ORDER, "bounce_processor": events}
    per_function_requests = requests.get("by_function", {})
    invocations = seconds = gb_seconds = log_bytes = sqs = 0.0
    for handler, per_order in records.items():
        function = facts["functions"].get(handler)
        if function is None or per_order is None:
            continue
        batch = function.get("batch_size", 10)
        measured = warm.get(handler, {})
        calls = float(per_function_requests.get(handler, 0.0)) / per_order
        per_record = measured.get("handler_ms_per_record", 0.0) / 1000 + calls * latency
        invocations += orders * per_order / batch
        seconds += orders * per_order * per_record
        gb_seconds += orders * per_order * per_record * function["memory_mb"] / 1024
        log_bytes += orders * per_order * measured.get("log_bytes_per_record", 0.0)
        log_bytes += orders * per_order / batch * PLATFORM_LOG_BYTES
        sqs += orders * per_order * (1 + 2 / batch)  # the delivery; a receive and a delete per batch
    architectures = [str(f["architecture"]) for f in facts["functions"].values()] or ["x86_64"]
    arch = architectures[0]
    lines["SNS publishes (order + SES events)"] = orders * (1 + events) * _price(prices, "sns_publish")
    lines["SQS requests"] = sqs * _price(prices, "sqs_request")
    lines["Lambda invocations"] = invocations * _price(prices, "lambda_request")
    lines[f"Lambda duration ({arch})"] = gb_seconds * _price(
        prices, f"lambda_gb_second_{arch.replace('-', '_')}"
    )
    by_op = requests.get("by_operation", {})
    writes = _request_units(by_op, _WRITES, _BATCH_WRITES) * orders
    reads = _request_units(by_op, _READS, _BATCH_READS) * orders
    lines["DynamoDB writes"] = writes * _price(prices, "dynamodb_write_request")
    lines["DynamoDB reads"] = reads * _price(prices, "dynamodb_read_request")
    mailed = requests.get("mailed", requests.get("orders", 1)) / max(1, requests.get("orders", 1))
    lines["SES e-mails"] = orders * mailed * _price(prices, "ses_outbound_email")
    gigabytes = log_bytes / 1e9
    lines["CloudWatch Logs ingestion"] = gigabytes * _price(prices, "cloudwatch_logs_ingestion_gb")
    retention_months = max(facts["log_retention_days"] or [30]) / 30
    lines["CloudWatch Logs storage (whole retention)"] = (
        gigabytes * retention_months * _price(prices, "cloudwatch_logs_storage_gb_month")
    )
    idle_receives = float(assume["esm_idle_receives_per_month"])
    fixed = {
        f"KMS keys ({facts['kms_keys']})": facts["kms_keys"] * _price(prices, "kms_key_month"),
        f"alarm metrics ({facts['alarm_metrics']} in {facts['alarms']} alarms)": facts["alarm_metrics"]
        * _price(prices, "cloudwatch_alarm_metric_month"),
        f"dashboards ({facts['dashboards']})": facts["dashboards"]
        * _price(prices, "cloudwatch_dashboard_month"),
        f"idle SQS polling ({facts['event_source_mappings']} event source mappings)": facts[
            "event_source_mappings"
        ]
        * idle_receives
        * _price(prices, "sqs_request"),
    }
    return {
        "prices_as_of": prices["as_of"],
        "region": prices["region"],
        "per_1000_orders": lines,
        "per_1000_orders_total": sum(lines.values()),
        "lambda_seconds_per_1000_orders": seconds,
        "log_megabytes_per_1000_orders": log_bytes / 1e6,
        "fixed_per_month": fixed,
        "fixed_per_month_total": sum(fixed.values()),
        "template": facts,
    }


_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
_READS = {"GetItem", "Query"}
# On-demand request units per order of a request that carries every order of its batch (items of <= 1 KB):
# a transactional write costs 2 write units per item, a batch write 1, a strongly consistent batch read
# 1 read unit (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html
# and .../transaction-apis.html#transaction-capacity-handling).
_BATCH_WRITES = {"TransactWriteItems": 2.0, "BatchWriteItem": 1.0}
_BATCH_READS = {"BatchGetItem": 1.0}


def _request_units(by_operation: dict[str, float], single: set[str], batched: dict[str, float]) -> float:
    """Request units per order: one per single-item request, and for the per-batch requests their units
    per item once per order for each function that makes them (``service:Operation [function]`` keys)."""
    units = 0.0
    for key, per_order in by_operation.items():
        operation = key.split(" ")[0].split(":")[1]
        if operation in single:
            units += per_order
        elif operation in batched and per_order > 0:
            units += batched[operation]
    return units


def report(figures: dict[str, Any]) -> None:
    print(f"Cost per 1,000 orders ({figures['region']} list prices as of {figures['prices_as_of']}):")
    for name, usd in figures["per_1000_orders"].items():
        print(f"  ${usd:9.5f}  {name}")
    print(f"  ${figures['per_1000_orders_total']:9.5f}  total")
    print(
        f"  (Lambda {figures['lambda_seconds_per_1000_orders']:.1f} s and "
        f"{figures['log_megabytes_per_1000_orders']:.2f} MB of logs per 1,000 orders)"
    )
    print("Fixed cost of the deployed example per month:")
    for name, usd in figures["fixed_per_month"].items():
        print(f"  ${usd:9.2f}  {name}")
    print(f"  ${figures['fixed_per_month_total']:9.2f}  total")


def _load(path: Path | None, key: str) -> dict[str, Any]:
    if path is None or not path.exists():
        return {}
    loaded: dict[str, Any] = json.loads(path.read_text()).get(key, {})
    return loaded


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--template",
        type=Path,
        action="append",
        required=True,
        help="a synthesized stack template (repeatable)",
    )
    parser.add_argument("--pipelines", type=Path, help="pipelines.py --json output")
    parser.add_argument("--warm", type=Path, help="warm.py --json output")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    prices = json.loads(PRICES.read_text())
    merged: dict[str, Any] = {"Resources": {}}
    for path in args.template:  # the example's stacks, together: one deployed example
        resources = json.loads(path.read_text()).get("Resources", {})
        merged["Resources"].update({f"{path.stem}/{key}": value for key, value in resources.items()})
    facts = template_facts(merged)
    pipelines = _load(args.pipelines, "pipelines")
    figures = compute(prices, facts, pipelines.get("requests_per_order", {}), _load(args.warm, "warm"))
    report(figures)
    if args.json:
        args.json.write_text(json.dumps({"cost": figures}, indent=2))


if __name__ == "__main__":
    main()
