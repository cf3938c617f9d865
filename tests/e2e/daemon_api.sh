#!/bin/sh
# daemon_api.sh — bulkheadd API tests that need no KVM (run on the host by
# make check against the ASan build): see daemon_api.py for the cases.
#   daemon_api.sh BULKHEAD BULKHEADD GUEST_ELF_DIR
here=$(dirname "$0")
exec python3 "$here/daemon_api.py" "$1" "$2" "$3" "$here/../../api/openapi.yaml"
