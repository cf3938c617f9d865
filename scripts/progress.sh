# scripts/progress.sh — sourced by the preparation scripts: say what a long
# step is doing and how far along it is, on stderr (stdout carries results).
# On a terminal one status line is rewritten in place; in a log (not a tty)
# each update is a plain line, and updates are rarer.
#   progress_note TEXT      a line of its own (start, end, cache reuse)
#   progress_update TEXT    the current state of a running step
#   progress_end            finish a rewritten status line
# PROGRESS_TAG (default: the calling script's name) prefixes every line.
PROGRESS_TAG=${PROGRESS_TAG:-$(basename "$0")}
if [ -t 2 ]; then PROGRESS_TTY=1; else PROGRESS_TTY=0; fi
PROGRESS_OPEN=0

progress_end() {
	if [ "$PROGRESS_OPEN" = 1 ]; then
		printf '\n' >&2
		PROGRESS_OPEN=0
	fi
}

progress_note() {
	progress_end
	printf '%s: %s\n' "$PROGRESS_TAG" "$*" >&2
}

progress_update() {
	if [ "$PROGRESS_TTY" = 1 ]; then
		printf '\r\033[K%s: %s' "$PROGRESS_TAG" "$*" >&2
		PROGRESS_OPEN=1
	else
		printf '%s: %s\n' "$PROGRESS_TAG" "$*" >&2
	fi
}

# progress_watch PID INTERVAL_TTY INTERVAL_LOG CMD...: while PID runs, every
# interval print "CMD's output, elapsed time" as an update.
progress_watch() {
	local pid=$1 itty=$2 ilog=$3 start now every
	shift 3
	start=$(date +%s)
	if [ "$PROGRESS_TTY" = 1 ]; then every=$itty; else every=$ilog; fi
	while kill -0 "$pid" 2>/dev/null; do
		now=$(date +%s)
		progress_update "$("$@") ($(((now - start) / 60))m$(((now - start) % 60))s)"
		local i=0
		while [ "$i" -lt "$every" ] && kill -0 "$pid" 2>/dev/null; do
			sleep 1
			i=$((i + 1))
		done
	done
	progress_end
}
