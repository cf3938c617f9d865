# bash completion for bulkhead (installed as
# $datadir/bash-completion/completions/bulkhead).
# Commands and options come from the binary's own --help at completion time,
# so this file never lists them and cannot go stale; VM ids and names come from
# the daemon (`bulkhead ps --json`, bounded to 2 s).

_bulkhead_commands() {
	"$1" --help 2>/dev/null | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p'
}

_bulkhead_options() { # BIN CMD
	"$1" "$2" --help 2>/dev/null | grep -o -- '--[a-z][a-z-]*' | sort -u
}

_bulkhead_vms() { # BIN [--socket PATH]
	local bin=$1
	shift
	timeout 2 "$bin" ps --json "$@" 2>/dev/null |
		grep -o '"\(id\|name\)" *: *"[^"]*"' | sed 's/.*: *"\(.*\)"$/\1/' | sort -u
}

_bulkhead() {
	local cur prev bin=$1 cmd="" i sock=()
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--socket) sock=(--socket "${COMP_WORDS[i + 1]}") ;;
		-*) ;;
		*) [ -z "$cmd" ] && cmd=${COMP_WORDS[i]} ;;
		esac
	done
	if [ -z "$cmd" ]; then
		COMPREPLY=($(compgen -W "$(_bulkhead_commands "$bin") --help --version" -- "$cur"))
		return
	fi
	case $prev in
	--kernel | --initrd | --config | --socket | --kernel-cache)
		COMPREPLY=($(compgen -f -- "$cur"))
		compopt -o filenames 2>/dev/null
		return ;;
	--guest)
		COMPREPLY=($(compgen -d -- "$cur"))
		local g=${BULKHEAD_GUESTS:-$HOME/.cache/bulkhead/guests}
		[ -d "$g" ] && COMPREPLY+=($(compgen -W "$(ls "$g" 2>/dev/null)" -- "$cur"))
		return ;;
	--disk)
		case $cur in
		path=*) COMPREPLY=($(compgen -f -P path= -- "${cur#path=}")); compopt -o filenames 2>/dev/null ;;
		*) COMPREPLY=($(compgen -W "path=" -- "$cur")); compopt -o nospace 2>/dev/null ;;
		esac
		return ;;
	--console) COMPREPLY=($(compgen -W "stdio none virtio file:" -- "$cur")); return ;;
	--cpu-template) COMPREPLY=($(compgen -W "baseline host" -- "$cur")); return ;;
	--boot-protocol) COMPREPLY=($(compgen -W "auto linux64 pvh" -- "$cur")); return ;;
	--decompress) COMPREPLY=($(compgen -W "host guest" -- "$cur")); return ;;
	--mem | --cpus | --console-max | --sandbox-uid | --sandbox-gid | --control-fd | \
	--cmdline | --name | --timeout | --tail | --reason)
		return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_bulkhead_options "$bin" "$cmd")" -- "$cur"))
		return
	fi
	case $cmd in
	run | ps | create) ;;
	*) COMPREPLY=($(compgen -W "$(_bulkhead_vms "$bin" "${sock[@]}")" -- "$cur")) ;;
	esac
}
complete -F _bulkhead bulkhead
