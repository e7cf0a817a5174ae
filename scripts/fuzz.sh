#!/usr/bin/env bash
# Runs every fuzz target in the module for a short time each (FUZZTIME,
# default 10s). Targets are found by name, so new ones are picked up.
#
# A target fails the script only when the run found an input that fails:
# Go then writes it under the target's package, in
# testdata/fuzz/<FuzzName>/, and says "Failing input written to". A run that
# ends in "context deadline exceeded" with no input written is a known race
# in Go's fuzzing coordinator under CPU load (golang/go#75804), not a
# finding: it is run again once, and if the race strikes again the target is
# reported as not fuzzed, without failing. Any other failure (the package
# does not build, an input of the seed corpus fails) fails the script.
#
# GO (default go) and FUZZROOT (default this repository) are for the
# script's own test, which runs it against a fake go command.
set -euo pipefail
root=${FUZZROOT:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
gocmd=${GO:-go}
fuzztime=${FUZZTIME:-10s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# inputs lists the files of a target's corpus directory, one per line.
inputs() { [[ -d $1 ]] && find "$1" -type f | sort || true; }

# fuzz runs one target once and sets verdict: pass, found (an input
# fails), hiccup (the coordinator's race) or broken (anything else). The
# output of go test is left in $log, and the inputs the run wrote to the
# target's corpus, one per line, in $found.
fuzz() {
	local dir=$1 name=$2 corpus=$1/testdata/fuzz/$2 before rc=0
	before=$(inputs "$corpus")
	"$gocmd" test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "./$dir" >"$log" 2>&1 || rc=$?
	found=$(comm -13 <(printf '%s\n' "$before") <(inputs "$corpus") | sed '/^$/d')
	if ((rc == 0)); then
		verdict=pass
	elif [[ -n $found ]] || grep -q 'Failing input written to' "$log"; then
		verdict=found
	elif grep -q 'context deadline exceeded' "$log" && ! grep -qE 'panic:|--- FAIL: Fuzz[A-Za-z0-9_]*/' "$log"; then
		verdict=hiccup
	else
		verdict=broken
	fi
}

status=0
while IFS=: read -r file line; do
	dir=$(dirname "$file")
	name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' <<<"$line")
	echo "fuzz: $dir $name ($fuzztime)"
	fuzz "$dir" "$name"
	if [[ $verdict == hiccup ]]; then
		echo "fuzz: $dir $name: the run ended in 'context deadline exceeded' with no failing input (golang/go#75804); running it again"
		fuzz "$dir" "$name"
	fi
	case $verdict in
	pass) ;;
	hiccup)
		echo "fuzz: $dir $name: warning: not fuzzed, Go's fuzzing coordinator failed twice without finding a failing input"
		;;
	found)
		cat "$log"
		if [[ -z $found ]]; then
			found=$(grep -oE 'Failing input written to [^ ]+' "$log" | sed -E "s|^Failing input written to |$dir/|" || true)
		fi
		echo "fuzz: $dir $name FAILED: the failing input is in" $found
		echo "fuzz: replay it with: go test -run '^$name\$' ./$dir"
		status=1
		;;
	*)
		cat "$log"
		echo "fuzz: $dir $name FAILED (no new input was written; see the output above)"
		status=1
		;;
	esac
done < <(grep -rE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' . | sed -E 's|^\./||' | sort)
exit $status
