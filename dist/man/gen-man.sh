#!/bin/sh
# dist/man/gen-man.sh OUTPUT SECTION VERSION INCLUDE PROGRAM [SUBCOMMAND]
# One man page from the built program's own --help (help2man), so the options
# it lists are exactly the ones the program accepts; INCLUDE adds the prose
# sections --help lacks. The date in .TH is written as YYYY-MM-DD (from
# SOURCE_DATE_EPOCH when set, for reproducible packages), which both groff and
# `mandoc -T lint` accept; help2man's "Month YYYY" is not parseable by mandoc.
set -eu
out=$1 section=$2 version=$3 include=$4 prog=$5 sub=${6:-}
help="--help"
[ -z "$sub" ] || help="$sub --help"
# help2man runs "PROGRAM HELP-OPTION" through the shell: 'run --help' asks
# the subcommand for its help.
help2man --no-info --no-discard-stderr --section="$section" \
	--version-string="$version" --help-option="$help" --include="$include" \
	--source="bulkhead $version" --manual=bulkhead --output="$out.tmp" "$prog"
date=$(date -u ${SOURCE_DATE_EPOCH:+-d "@$SOURCE_DATE_EPOCH"} +%Y-%m-%d)
sed "1,5s/^\(\.TH [^ ]* [^ ]*\) \"[^\"]*\"/\1 \"$date\"/" "$out.tmp" >"$out"
rm -f "$out.tmp"
