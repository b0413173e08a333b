#!/usr/bin/env python3
"""Checks one action run of ci/container-e2e.sh: the step's outputs file (both of
the runner's forms), the step summary, and report.json, against each other and
against the exit code. Usage: e2e-check.py NAME EXIT WORKSPACE OUTPUT SUMMARY LOG"""
import json
import os
import re
import sys

from e2e_files import read_outputs as outputs

name, code, ws, output_file, summary_file, log_file = sys.argv[1:7]
code = int(code)
problems = []


out = outputs(output_file)
summary = open(summary_file, encoding="utf-8").read()
codes = {"pass": 0, "warn": 0, "fail": 1, "incomparable": 3, "insufficient-evidence": 3}
verdict = out.get("verdict")
if verdict not in codes:
    problems.append(f"output verdict is {verdict!r}")
elif codes[verdict] != code:
    problems.append(f"verdict {verdict} but exit {code}")
report_path = out.get("report-path", "")
report = None
try:
    report = json.load(open(os.path.join(ws, report_path), encoding="utf-8"))
except (OSError, ValueError) as e:
    problems.append(f"report-path {report_path!r}: {e}")
if report is not None:
    if report.get("verdict") != verdict:
        problems.append(f"report.json verdict {report.get('verdict')!r} != output {verdict!r}")
    if report.get("exit_code") != code:
        problems.append(f"report.json exit_code {report.get('exit_code')} != exit {code}")
    if not report.get("format", "").startswith("receipt-action/report/"):
        problems.append("report.json has no receipt-action format")
if not summary.strip():
    problems.append("the step summary is empty")
elif verdict and verdict not in summary.lower():
    problems.append(f"the step summary does not say {verdict}")
if "::" in summary:
    problems.append("a workflow command in the step summary")
measured = name.startswith(("measure", "pr", "release"))
if measured:
    receipt = out.get("receipt-path", "")
    if not receipt or not os.path.isfile(os.path.join(ws, receipt)):
        problems.append(f"receipt-path {receipt!r} is not a file in the workspace")
    try:
        if float(out.get("tokens-per-second", "")) <= 0:
            problems.append("tokens-per-second is not positive")
    except ValueError:
        problems.append(f"tokens-per-second is {out.get('tokens-per-second')!r}")
if name.startswith("pr"):
    if out.get("unbacked-claims") != "1":
        problems.append(f"unbacked-claims is {out.get('unbacked-claims')!r}, expected 1 (docs/perf.md)")
log = open(log_file, encoding="utf-8", errors="replace").read()
if "panicked" in log:
    problems.append("policy-check panicked")
print(f"{name}: exit {code}, verdict {verdict}, outputs {sorted(out)}"
      + (f", {out.get('tokens-per-second')} tok/s" if measured else ""))
if problems:
    print("\n".join(f"  problem: {p}" for p in problems), file=sys.stderr)
    sys.exit(1)
