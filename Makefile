# robot_rl: the README's two commands are `make demo` and `make test`.
VENV := .venv/bin

.PHONY: setup demo test test-slow bench clean

setup:
	bash scripts/setup.sh

# Main job, end to end as far as the project goes today: train -> held-out eval.
demo: setup
	$(VENV)/robot-rl train quadrotor-hover --out runs/demo
	$(VENV)/robot-rl eval runs/demo/checkpoint.pt --task quadrotor-hover --episodes 100

test: setup
	$(VENV)/python -m pytest -q

test-slow: setup
	$(VENV)/python -m pytest -q -m slow

bench: setup
	$(VENV)/python -m bench.sim_throughput
	$(VENV)/python -m bench.hover_time

clean:
	rm -rf runs .pytest_cache
