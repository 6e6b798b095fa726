#!/usr/bin/env bash
# Print the path of a Python 3.12+ interpreter: PATH first, then pyenv's versions.
# PuLP 4 needs 3.12; on some machines python3 is older and 3.12/3.13 sit under pyenv.
set -u
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
for cand in python3.13 python3.12 python3 python; do
  path=$(command -v "$cand" 2>/dev/null) || continue
  if ok "$path"; then echo "$path"; exit 0; fi
done
for dir in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]* /usr/local/bin /usr/bin; do
  for path in "$dir"/bin/python3 "$dir"/python3.13 "$dir"/python3.12; do
    if [ -x "$path" ] && ok "$path"; then echo "$path"; exit 0; fi
  done
done
echo "supplybid needs Python 3.12 or newer: install it (e.g. 'pyenv install 3.12' or 'apt-get install python3.12') and retry." >&2
exit 1
