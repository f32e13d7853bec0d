#!/usr/bin/env bash
# The acceptance campaign of `vibedrill explore` (issue 10): each API-lane platform defect in turn,
# budget 300, seed 1; every found scenario is replayed with `vibedrill run`. Run under `nice`.
# Writes reports/explore-campaign/<defect>.{log,json} and reports/explore-campaign/table.md.
set -u
cd "$(dirname "$0")/.."
out=reports/explore-campaign
mkdir -p "$out"
defects=${DEFECTS:-"audit_dropped credential_cross_wire engagement_dedupe_off fifo_queue kill_switch_ignored_by_engagement no_budget_stop no_provider_failover refresh_race retry_after_ignored retry_not_idempotent tenancy_guard_off toolgate_fail_open verification_skipped"}
for d in $defects; do
  start=$(date +%s.%N)
  vibedrill explore --defect "$d" --budget "${BUDGET:-300}" --seed "${SEED:-1}" --no-db \
    --reports-dir "$out" --search-id "$d" > "$out/$d.log" 2>&1
  rc=$?
  end=$(date +%s.%N)
  scen=$(sed -n 's/^VIOLATED .*minimal scenario .*: \(.*\.yaml\).*/\1/p' "$out/$d.log")
  rerun=none
  if [ -n "$scen" ]; then
    vibedrill run "$scen" --defect "$d" --reports-dir "$out/replays" > "$out/$d.run.log" 2>&1
    rerun=$?
  fi
  printf '{"defect": "%s", "explore_rc": %s, "wall_s": %.1f, "scenario": "%s", "vibedrill_run_rc": "%s"}\n' \
    "$d" "$rc" "$(echo "$end - $start" | bc)" "$scen" "$rerun" > "$out/$d.json"
done
