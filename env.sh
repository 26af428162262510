# source me: activates the project venv
. "$(dirname "${BASH_SOURCE[0]}")/.venv/bin/activate"
