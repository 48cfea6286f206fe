#!/bin/sh
# Searches the journals the monitoring host received, each entry once. journal-upload delivers
# at least once: an upload cut off mid-batch (the receiver restarted, the network gone) is sent
# again from the last acknowledged cursor, and journal-remote stores what it had already
# written a second time. The copies keep the sender's machine, boot and timestamps, so they
# are folded here by those (and the message): two different lines never fold.
#
# Usage: received-logs.sh [--json] [--directory DIR] [journalctl options and matches]...
#   --json       one JSON object per entry (journalctl's --output=json), each once
#   --directory  the received journals (default /var/log/journal/remote)
# The rest goes to journalctl: `_HOSTNAME=desk1 --since today`, `-u sshd --grep 'Failed'`.
# Control characters in a line are shown as '?' (journalctl hands such a line over as bytes): a sender's text never drives the terminal.
# Memory grows with the number of entries shown (one key each): narrow long searches.
set -eu

directory=/var/log/journal/remote
mode=short

while [ $# -gt 0 ]; do
  case $1 in
    --json) mode=json; shift ;;
    --directory)
      [ $# -ge 2 ] || { echo "received-logs: --directory needs a folder" >&2; exit 2; }
      directory=$2; shift 2 ;;
    --directory=*) directory=${1#--directory=}; shift ;;
    -o | --output | --output=*)
      echo "received-logs: the output is chosen here (--json or the default short lines), not with $1" >&2
      exit 2 ;;
    *) break ;;
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
  def text:
    if type == "string" then .
    elif type == "array" and all(.[]; type == "number" and . < 128) then implode
    elif type == "array" and all(.[]; type == "number") then "[\(length) bytes of binary data]"
    elif type == "array" then map(text) | join(" ")
    elif . == null then ""
    else tostring end;
  def key:
    [._MACHINE_ID // ._HOSTNAME // "", ._BOOT_ID // "", .__MONOTONIC_TIMESTAMP // "",
     .__REALTIME_TIMESTAMP // "", (.MESSAGE | text)] | join("\u0001");
  def clean: gsub("[[:cntrl:]]"; "?");
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
