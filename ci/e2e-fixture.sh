# Sourced by ci/container-e2e.sh and ci/native-e2e.sh: the fixture as a
# two-commit repository in $ws, the base and a head that adds a claim no receipt
# backs; sets base_sha and head_sha. Needs $repo (this checkout), $ws and $work.
git_ws() { git -C "$ws" -c user.name=e2e -c user.email=e2e@example.invalid "$@"; }
cp -r "$repo/ci/e2e-fixture/." "$ws/"
git_ws init -q -b main
mv "$ws/docs/perf.md" "$work/perf.md"
git_ws add -A && git_ws commit -q -m base
base_sha=$(git_ws rev-parse HEAD)
mv "$work/perf.md" "$ws/docs/perf.md"
git_ws add -A && git_ws commit -q -m "head: a claim"
head_sha=$(git_ws rev-parse HEAD)
