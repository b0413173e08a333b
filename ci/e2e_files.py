"""The runner's file commands as the e2e scripts read them back (shared by
ci/e2e-check.py and ci/native-runner.py)."""


def read_outputs(path):
    """name=value and name<<DELIM ... DELIM, as the runner reads $GITHUB_OUTPUT."""
    found, lines, i = {}, open(path, encoding="utf-8").read().split("\n"), 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delim = line.split("<<", 1)
            end = lines.index(delim, i + 1)
            found[key] = "\n".join(lines[i + 1 : end])
            i = end + 1
            continue
        if "=" in line:
            key, value = line.split("=", 1)
            found[key] = value
        i += 1
    return found
