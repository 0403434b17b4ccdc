# Sourced by the install, package and guest tests (bash): failures counted rather than the first
# one ending the test, exact comparisons, polling with a deadline, and the BPF objects a process
# holds.

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
expect_eq() {  # expect_eq WHAT GOT WANT
  [ "$2" = "$3" ] || fail "$1: '$2', expected '$3'"
}
# poll SECONDS COMMAND...: run COMMAND every 0.2 s until it succeeds or SECONDS pass.
poll() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}
# report SUMMARY: exit 1 after the failures, or print SUMMARY.
report() {
  if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)" >&2
    exit 1
  fi
  echo "$1"
}
# bpf_ids_held PID KEY: the ids of KEY (link_id, prog_id) of PID's descriptors, one per line.
bpf_ids_held() {
  awk -v k="$2:" '$1 == k {print $2}' /proc/"$1"/fdinfo/* 2> /dev/null | sort -u
}
# bpf_ids_left KIND IDS...: those of IDS bpftool still shows (links and programs go away with
# the last descriptor of them; the kernel is given up to 5 s to release them).
bpf_ids_left() {
  local kind=$1 id left
  shift
  for _ in $(seq 1 25); do
    left=""
    for id in "$@"; do
      bpftool "$kind" show id "$id" > /dev/null 2>&1 && left+=" $id"
    done
    [ -z "$left" ] && return 0
    sleep 0.2
  done
  echo "$left"
}
# The agent's exposition, for the tests that scrape it: set metrics_url (its /metrics) and
# metrics (a file for the last scrape) first.
scrape() { curl -sf --max-time 5 "$metrics_url" > "$metrics"; }
# value SERIES: the sample of exactly SERIES (name and labels as exposed) in the last scrape.
value() { awk -v s="$1" '$1 == s {print $2}' "$metrics"; }
# series_is SERIES VALUE: a fresh scrape has SERIES at exactly VALUE.
series_is() { scrape && [ "$(value "$1")" = "$2" ]; }
