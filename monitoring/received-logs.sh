#!/bin/sh
# Searches the journals the monitoring host received, each entry once. journal-upload delivers
# at least once: an upload cut off mid-batch (the receiver restarted, the network gone) is sent
# again from the last acknowledged cursor, and journal-remote stores what it had already
# written a second time. The copies keep the sender's machine, boot and timestamps, so they
# are folded here by those (and the message): two different lines never fold.
#
# Usage: received-logs.sh [--json] [--directory DIR] [journalctl options and matches]...
#   (ours may stand anywhere before `--`; options that change journalctl's output are refused)
#   --json       one JSON object per entry (journalctl's --output=json), each once
#   --directory  the received journals (default /var/log/journal/remote)
# The rest goes to journalctl: `_HOSTNAME=desk1 --since today`, `-u sshd --grep 'Failed'`.
# Control characters (C0, C1) and bidirectional overrides in a line are shown as '?': a sender's
# text never drives the terminal.
# Memory grows with the number of entries shown (one key each): narrow long searches.
set -eu

directory=/var/log/journal/remote
mode=short

refuse() {
  echo "received-logs: $1 changes what journalctl prints; the output is chosen here (--json or the default short lines)" >&2
  exit 2
}

# Our options may stand anywhere before `--`; every other argument is kept, in order, for
# journalctl (the list is rotated through "$@": each argument taken from the front, put back at
# the end unless it is ours).
count=$#
ended=0
while [ "$count" -gt 0 ]; do
  arg=$1
  shift
  count=$((count - 1))
  if [ "$ended" = 1 ]; then set -- "$@" "$arg"; continue; fi
  case $arg in
    --) ended=1; set -- "$@" "$arg" ;;
    --json) mode=json ;;
    --directory | -D)
      [ "$count" -gt 0 ] || { echo "received-logs: $arg needs a folder" >&2; exit 2; }
      directory=$1; shift; count=$((count - 1)) ;;
    --directory=*) directory=${arg#--directory=} ;;
    --output | --output=* | --output-fields | --output-fields=* | --field | --field=* | \
      --fields | --disk-usage | --list-boots | --help | --version | --header | --verify | \
      --vacuum-* | --rotate | --flush | --sync | --list-catalog | --dump-catalog | \
      --update-catalog | --setup-keys | --new-id128 | --relinquish-var | --smart-relinquish-var)
      refuse "$arg" ;;
    --*) set -- "$@" "$arg" ;;
    -*)
      # A cluster of short options: those before the first that takes a value, then that one.
      # -o (output), -F (field), -N (fields) and -h (help) change what is printed.
      if printf '%s' "$arg" | grep -Eq '^-[abefklmqrxaN]*[oFNh]'; then refuse "$arg"; fi
      set -- "$@" "$arg" ;;
    *) set -- "$@" "$arg" ;;
  esac
done
if [ ! -d "$directory" ]; then
  echo "received-logs: no received journals at $directory; run this on the monitoring host or pass --directory" >&2
  exit 1
fi

# journalctl's own exit status matters (a bad match, an unreadable folder), so it is kept.
status_file=$(mktemp)
trap 'rm -f "$status_file"' EXIT
{
  code=0
  journalctl --directory="$directory" --output=json --no-pager "$@" || code=$?
  echo "$code" >"$status_file"
} | jq --unbuffered -r -n --arg mode "$mode" '
  # journalctl hands over a value with control characters or invalid UTF-8 as its bytes:
  # decoded here as UTF-8, a byte that does not fit shown as U+FFFD.
  def utf8:
    # A last 0 closes a sequence cut short at the end (shown as U+FFFD); it is dropped after.
    (. + [0]) as $bytes
    | [foreach range(0; $bytes | length) as $i ({need: 0, cp: 0, out: []};
        $bytes[$i] as $b
        | if .need > 0 and $b >= 128 and $b < 192 then
            (.cp * 64 + $b - 128) as $cp
            | if .need == 1 then {need: 0, cp: 0, out: [$cp]}
              else {need: (.need - 1), cp: $cp, out: []} end
          else
            (if .need > 0 then [65533] else [] end) as $broken
            | if $b < 128 then {need: 0, cp: 0, out: ($broken + [$b])}
              elif $b >= 194 and $b < 224 then {need: 1, cp: ($b - 192), out: $broken}
              elif $b >= 224 and $b < 240 then {need: 2, cp: ($b - 224), out: $broken}
              elif $b >= 240 and $b < 245 then {need: 3, cp: ($b - 240), out: $broken}
              else {need: 0, cp: 0, out: ($broken + [65533])} end
          end;
        .out[])]
    | .[:-1]
    | map(if (. >= 55296 and . < 57344) or . > 1114111 then 65533 else . end)
    | implode;
  def text:
    if type == "string" then .
    elif type == "array" and all(.[]; type == "number") then utf8
    elif type == "array" then map(text) | join(" ")
    elif . == null then ""
    else tostring end;
  # The message as journalctl gave it (bytes or text): two different lines never share a key.
  def key:
    [._MACHINE_ID // ._HOSTNAME // "", ._BOOT_ID // "", .__MONOTONIC_TIMESTAMP // "",
     .__REALTIME_TIMESTAMP // "", (.MESSAGE | tojson)] | join("\u0001");
  # C0 and C1 controls, and the bidirectional overrides that reorder what a terminal shows.
  def clean: gsub("[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]"; "?");
  foreach inputs as $entry ({seen: {}, show: false};
    ($entry | key) as $key
    | if .seen[$key] then .show = false else .seen[$key] = true | .show = true end;
    if .show then $entry else empty end)
  | if $mode == "json" then tojson
    else
      ((.__REALTIME_TIMESTAMP // "0" | tonumber / 1000000 | floor | todate) + " "
        + (._HOSTNAME // "?" | text | clean) + " "
        + (.SYSLOG_IDENTIFIER // ._COMM // "?" | text | clean)
        + (if ._PID then "[" + (._PID | text | clean) + "]" else "" end) + ": "
        + (.MESSAGE | text | clean))
    end'
status=$(cat "$status_file")
exit "${status:-1}"
