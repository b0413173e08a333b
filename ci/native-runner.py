#!/usr/bin/env python3
"""A small stand-in for GitHub's runner executing a composite action: reads
native/action.yml, fills every input (its default, or the value given), and runs
each `run:` step as the runner does: `${{ inputs.x }}` and
`${{ steps.<id>.outputs.<x> }}` substituted into `run` and `env` before the
shell sees them, `bash --noprofile --norc -eo pipefail <script>`, a fresh
$GITHUB_OUTPUT per step whose lines become that step's outputs. A `uses:` step
(actions/cache) cannot run here: its `with:` is evaluated and printed, and its
paths are checked to exist after the last step, as its post step would save them.

Usage: native-runner.py ACTION_YML OUTPUTS_JSON [--only-first-step] [name=value ...]
The runner's environment (GITHUB_*, RUNNER_*, HOME) comes from the caller.
Exit: the failing step's exit code, or 0; 2 for a harness error.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

from e2e_files import read_outputs

import yaml

action_yml, outputs_json, *rest = sys.argv[1:]
only_first = "--only-first-step" in rest
given = dict(a.split("=", 1) for a in rest if a != "--only-first-step")
action = yaml.safe_load(open(action_yml, encoding="utf-8"))
declared = action["inputs"]
unknown = set(given) - set(declared)
if unknown:
    sys.exit(f"harness: inputs not in {action_yml}: {sorted(unknown)}")

steps_ctx = {}
token = os.environ.get("E2E_GITHUB_TOKEN", "")


def evaluate(text, inputs):
    """The expressions this action uses; anything else is a harness error, not a guess."""

    def one(m):
        e = m.group(1).strip()
        if m2 := re.fullmatch(r"inputs\.([A-Za-z0-9_-]+)", e):
            return inputs[m2.group(1)]
        if m2 := re.fullmatch(r"steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)", e):
            return steps_ctx.get(m2.group(1), {}).get(m2.group(2), "")
        if e == "github.token":
            return token
        sys.exit(f"harness: unsupported expression ${{{{ {e} }}}}")

    return re.sub(r"\$\{\{(.*?)\}\}", one, str(text))


# Defaults may themselves be expressions (github-token).
inputs = {}
for name, spec in declared.items():
    default = "" if spec.get("default") is None else str(spec["default"])
    inputs[name] = given.get(name, evaluate(default, {}))


cache_paths = []
code = 0
for n, step in enumerate(action["runs"]["steps"]):
    name = step.get("name", f"step {n}")
    if "uses" in step:
        with_ = {k: evaluate(v, inputs) for k, v in step.get("with", {}).items()}
        print(f"::group::{name} (uses {step['uses'].split('@')[0]}: not run here)")
        for k, v in with_.items():
            print(f"  with.{k}: {v!r}")
        print("::endgroup::")
        if "actions/cache" in step["uses"]:
            cache_paths += [p.strip() for p in with_["path"].splitlines() if p.strip()]
            if not with_.get("key"):
                sys.exit(f"harness: {name}: empty cache key")
        continue
    if step.get("shell") != "bash":
        sys.exit(f"harness: {name}: shell {step.get('shell')!r}, only bash is emulated")
    env = dict(os.environ)
    env.pop("E2E_GITHUB_TOKEN", None)
    env.update({k: evaluate(v, inputs) for k, v in step.get("env", {}).items()})
    with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as script, \
            tempfile.NamedTemporaryFile("w", delete=False) as out:
        script.write(evaluate(step["run"], inputs))
    env["GITHUB_OUTPUT"] = out.name
    print(f"::group::{name}", flush=True)
    code = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", script.name],
                          env=env).returncode
    print("::endgroup::", flush=True)
    if "id" in step:
        steps_ctx[step["id"]] = read_outputs(out.name)
    os.unlink(script.name)
    os.unlink(out.name)
    if code != 0:
        print(f"harness: step '{name}' exited {code}", flush=True)
        break
    if only_first:
        break

outputs = {k: evaluate(v.get("value", ""), inputs) for k, v in action.get("outputs", {}).items()}
json.dump({"exit": code, "outputs": outputs, "steps": steps_ctx, "cache_paths": cache_paths},
          open(outputs_json, "w"), indent=1)
if code == 0 and not only_first:
    home = os.path.expanduser("~")
    missing = [p for p in cache_paths if not os.path.exists(p.replace("~", home, 1))]
    if missing:
        print(f"harness: cache paths that the build did not create: {missing}")
        sys.exit(2)
sys.exit(code)
